import { ENV } from './env-schema.ts';
import { SECTIONS, type EnvVar } from './env-types.ts';

/**
 * docs/configuration.md, rendered from the environment schema. `pnpm --filter @clawd402/gateway docs:config` writes
 * it; test/configuration-doc.test.ts fails when the file and this rendering differ.
 */
export function renderConfigurationDoc(schema: Readonly<Record<string, EnvVar<unknown>>> = ENV): string {
  const entries = Object.entries(schema);
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from apps/gateway/src/config/env-schema.ts by `pnpm --filter @clawd402/gateway docs:config`.',
    '     Do not edit by hand: test/configuration-doc.test.ts fails when this file and the schema differ. -->',
    '',
    `The gateway reads ${entries.length} environment variables, once, at start-up (\`loadConfig\` in`,
    '`apps/gateway/src/config.ts`, through the schema in `src/config/env-schema.ts`; nothing else in the gateway reads',
    'the environment). A setting that is malformed, out of range, missing when required, or refused in production stops',
    'the process before it listens, with exit code 78 and one line naming the variable, for example',
    '`clawd402: configuration error: PORT: must be between 0 and 65535`. Messages never repeat a secret or a URL.',
    '',
    '- **Secrets come from files.** A variable whose format says "secret file" names a file; the file is read once at',
    '  start-up and refused when it is empty or its whole content is a placeholder (`changeme`, `secret`, `test`, `dev`,',
    '  …). Secrets never get defaults. Where a setting has both forms (`DATABASE_URL` and `DATABASE_URL_FILE`), the file',
    '  wins.',
    '- **Integers** are plain digits within the range shown; an empty value means the default.',
    '- **Production** (`NODE_ENV=production`) adds the rules in the production column, refuses the embedded launcher, and',
    '  requires TLS (`TLS_CERT_FILE` and `TLS_KEY_FILE`) unless `TRUSTED_PROXIES` names a TLS-terminating proxy.',
    '',
  ];
  for (const section of SECTIONS) {
    const rows = entries.filter(([, spec]) => spec.section === section);
    if (rows.length === 0) continue;
    lines.push(
      `## ${section}`,
      '',
      '| variable | default | format | required | production | description |',
      '|---|---|---|---|---|---|',
    );
    for (const [name, spec] of rows) {
      const format = spec.secret && !spec.format.includes('secret') ? `${spec.format} (secret file)` : spec.format;
      lines.push(
        `| \`${name}\` | ${cell(defaultText(spec.default))} | ${cell(format)} | ${cell(spec.required ?? '')} | ${cell(spec.production ?? '')} | ${cell(spec.description)} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** A bare token is shown as code; prose (with spaces or its own code spans) as it is; none as a dash. */
function defaultText(value: string | undefined): string {
  if (value === undefined || value === '') return '—';
  return /^[^\s`]+$/.test(value) ? `\`${value}\`` : value;
}

/** Table cells: a "|" not already escaped would end the cell (inside code spans too, in GitHub's tables). */
function cell(text: string): string {
  return text.replace(/(?<!\\)\|/g, '\\|').replace(/\n/g, ' ');
}
