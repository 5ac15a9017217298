import { readFile } from 'node:fs/promises';
import { CliError } from '../cli-error.ts';
import type { Command } from '../command.ts';
import { RawBody } from '../gateway/gateway-client.ts';
import { confirm } from '../gateway/prompt.ts';
import { YES_OPTION, gatewayCommand, integerOption, seg } from '../gateway/gateway-command.ts';

interface Finding {
  code: string;
  rule?: string;
  path: string;
  message: string;
}
interface Lint {
  errors: Finding[];
  warnings: Finding[];
}
interface DecisionSummary {
  action: string;
  policy: string | null;
}
interface Replay {
  totals: { evaluated: number; changed: number; unchanged: number; byTransition: Record<string, number> };
  changes: { intentId: string; agentId: string; createdAt: string; before: DecisionSummary; after: DecisionSummary }[];
}
interface PushResult {
  file: string;
  hash: string;
  lint: Lint;
  replay: Replay;
  version: number;
  activated: { version: number; previousVersion: number | null; changed: boolean; activatedAt: string };
}

/** Files ending .json are JSON; anything else is YAML (as POST /admin/policies reads it). */
const formatOf = (file: string): 'json' | 'yaml' => (file.toLowerCase().endsWith('.json') ? 'json' : 'yaml');

const finding = (kind: string, f: Finding): string =>
  `  ${kind} ${f.code}${f.rule ? ` (rule ${f.rule})` : ''} at ${f.path}: ${f.message}`;

/** The lint and the replay diff as a person reads them before activating. */
export function describeCheck(lint: Lint, replay: Replay): string[] {
  const decision = (d: DecisionSummary): string => `${d.action}${d.policy ? ` by ${d.policy}` : ''}`;
  return [
    `lint: ${lint.errors.length} error(s), ${lint.warnings.length} warning(s)`,
    ...lint.errors.map((f) => finding('error', f)),
    ...lint.warnings.map((f) => finding('warning', f)),
    `replay of the last ${replay.totals.evaluated} intent(s): ${replay.totals.changed} decision(s) would change`,
    ...Object.entries(replay.totals.byTransition).map(([t, n]) => `  ${t}: ${n}`),
    ...replay.changes.map((c) => `  - ${c.intentId} (${c.createdAt}): ${decision(c.before)}  ->  ${decision(c.after)}`),
  ];
}

const push = gatewayCommand<PushResult>({
  path: ['policy', 'push'],
  summary: 'lint a policy set, show how recent decisions would change, then (asked) upload and activate it',
  details: [
    'First a dry run: the lint and a replay of recent intents under the new set (POST /admin/policies/dry-run),',
    'which changes nothing. A set with lint errors stops there (policy_lint_failed, exit 1). Then it asks on the',
    'terminal; --yes answers for scripts; without a terminal and without --yes it refuses (confirmation_required,',
    'exit 3). Only then is the set uploaded as a new version and activated.',
  ].join('\n'),
  args: [{ name: 'FILE', description: 'the policy set (YAML, or JSON when the name ends .json)' }],
  options: {
    replay: {
      type: 'string',
      value: 'N',
      description: 'how many recent intents to replay (default 200, at most 1000)',
    },
    ...YES_OPTION,
  },
  async run(client, o, out) {
    const file = String(o.FILE);
    const last = integerOption(o, 'replay') ?? 200;
    if (last > 1000) throw new CliError('usage', '--replay is at most 1000');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new CliError(
        'file_unreadable',
        `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const format = formatOf(file);
    const dry = await client.call<{ hash: string; lint: Lint; replay: Replay }>('POST', '/admin/policies/dry-run', {
      policy: text,
      format,
      replay: { last },
    });
    for (const line of describeCheck(dry.lint, dry.replay)) out.info(line);
    if (dry.lint.errors.length > 0)
      throw new CliError('policy_lint_failed', undefined, { detail: { hash: dry.hash, lint: dry.lint } });
    await confirm(`activate policy set ${dry.hash}?`, o.yes === true);
    const uploaded = await client.call<{ version: number; hash: string }>(
      'POST',
      '/admin/policies',
      new RawBody(text, format === 'json' ? 'application/json' : 'application/yaml'),
    );
    const activated = await client.call<PushResult['activated']>(
      'POST',
      `/admin/policies/${seg(uploaded.version)}/activate`,
    );
    return { file, hash: uploaded.hash, lint: dry.lint, replay: dry.replay, version: uploaded.version, activated };
  },
  render: (r) => [
    `policy set ${r.hash} is version ${r.version}, active (was ${r.activated.previousVersion ?? 'none'})`,
  ],
});

export const policyCommands: Command[] = [push] as Command[];
