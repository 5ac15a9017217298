/**
 * `pnpm --filter @clawd402/gateway docs:config`: write docs/configuration.md from the environment schema.
 * With `--check`, write nothing and exit 1 when the file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigurationDoc } from './configuration-doc.ts';

export const CONFIGURATION_DOC = new URL('../../../../docs/configuration.md', import.meta.url);

if (import.meta.url === `file://${process.argv[1]}`) {
  const rendered = renderConfigurationDoc();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(CONFIGURATION_DOC, 'utf8');
    } catch {
      // missing: out of date
    }
    if (current !== rendered) {
      console.error('docs/configuration.md is out of date: run `pnpm --filter @clawd402/gateway docs:config`');
      process.exit(1);
    }
  } else {
    writeFileSync(CONFIGURATION_DOC, rendered);
    console.log(`wrote ${CONFIGURATION_DOC.pathname}`);
  }
}
