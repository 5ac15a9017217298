import type { Command } from '../command.ts';
import { confirm } from '../gateway/prompt.ts';
import {
  REASON_OPTION,
  YES_OPTION,
  gatewayCommand,
  integerOption,
  query,
  seg,
  stringOption,
  table,
} from '../gateway/gateway-command.ts';
import { CliError } from '../cli-error.ts';
import type { IntentView } from '../gateway/views.ts';

/** An approval as GET /admin/approvals/:id answers it (docs/approvals.md); only what the CLI shows is typed. */
interface Approval {
  id: string;
  status: string;
  digest: string;
  required: number;
  approvedBy: string[];
  expiresAt: string;
  reason: string | null;
  intent:
    | (Pick<IntentView, 'id' | 'status' | 'type' | 'chainId' | 'from' | 'to' | 'asset' | 'amount' | 'decision'> & {
        simulation?: unknown;
      })
    | null;
}

const STATUSES = ['pending', 'approved', 'rejected', 'expired'];
const ID = [{ name: 'ID', description: 'the approval id' }];
const DIGEST = {
  digest: {
    type: 'string' as const,
    value: 'sha256:HEX',
    description: 'the digest you reviewed (from approvals show); the vote counts only for it',
  },
};

/** What a person needs to decide: what will be signed, the rule, the votes, the digest the vote binds to. */
function describe(a: Approval): string[] {
  const i = a.intent;
  return [
    `approval ${a.id}  ${a.status}  votes ${a.approvedBy.length}/${a.required}  expires ${a.expiresAt}`,
    ...(i
      ? [
          `intent   ${i.id}  ${i.status}  ${i.type} on chain ${i.chainId}`,
          `from     ${i.from}`,
          `to       ${i.to ?? '-'}`,
          `amount   ${i.amount} ${i.asset}`,
          `rule     ${i.decision?.policy ?? '-'}${i.decision?.reasons.length ? `  (${i.decision.reasons.join('; ')})` : ''}`,
        ]
      : []),
    `digest   ${a.digest}`,
    ...(a.reason ? [`reason   ${a.reason}`] : []),
  ];
}

const list = gatewayCommand<{ items: Approval[] }>({
  path: ['approvals', 'list'],
  summary: 'approvals waiting for a vote (or with --status, decided ones)',
  options: {
    status: { type: 'string', value: 'STATUS', description: 'pending (default), approved, rejected or expired' },
    limit: { type: 'string', value: 'N', description: 'at most N (default 50)' },
  },
  run: (client, options) => {
    integerOption(options, 'limit');
    if (options.status !== undefined && !STATUSES.includes(String(options.status)))
      throw new CliError('usage', `--status must be one of ${STATUSES.join(', ')}`);
    return client.call(
      'GET',
      `/admin/approvals${query({ status: options.status ?? 'pending', limit: options.limit })}`,
    );
  },
  render: (r) =>
    r.items.length === 0
      ? ['no approvals']
      : table([
          ['ID', 'STATUS', 'VOTES', 'AMOUNT', 'TO', 'EXPIRES'],
          ...r.items.map((a) => [
            a.id,
            a.status,
            `${a.approvedBy.length}/${a.required}`,
            a.intent ? `${a.intent.amount} ${a.intent.asset}` : '-',
            a.intent?.to ?? '-',
            a.expiresAt,
          ]),
        ]),
});

const show = gatewayCommand<Approval>({
  path: ['approvals', 'show'],
  summary: 'one approval: what will be signed, the rule and reasons, the votes and the digest',
  args: ID,
  run: (client, options) => client.call('GET', `/admin/approvals/${seg(options.ID)}`),
  render: describe,
});

const approve = gatewayCommand<Approval>({
  path: ['approvals', 'approve'],
  summary: 'vote to approve, bound to the digest shown',
  details: [
    'Without --digest the approval is fetched and shown, and you confirm (y) on the terminal; the vote carries the',
    'digest that was shown, so a changed intent is refused (approval_digest_mismatch). With --digest the vote carries',
    'that digest (from approvals show) and nothing is asked. --yes confirms the shown digest from a script.',
  ].join('\n'),
  args: ID,
  options: { ...DIGEST, ...YES_OPTION },
  async run(client, options, out) {
    let digest = typeof options.digest === 'string' ? options.digest : null;
    if (digest === null) {
      const shown = await client.call<Approval>('GET', `/admin/approvals/${seg(options.ID)}`);
      for (const line of describe(shown)) out.info(line);
      await confirm('approve this?', options.yes === true);
      digest = shown.digest;
    }
    return client.call('POST', `/admin/approvals/${seg(options.ID)}/approve`, { digest });
  },
  render: (a) => [`voted: approval ${a.id} is ${a.status} (${a.approvedBy.length}/${a.required})`, ...describe(a)],
});

const reject = gatewayCommand<Approval>({
  path: ['approvals', 'reject'],
  summary: 'reject with a reason (one rejection decides)',
  args: ID,
  options: { ...REASON_OPTION, ...DIGEST },
  async run(client, options) {
    const reason = stringOption(options, 'reason');
    return client.call('POST', `/admin/approvals/${seg(options.ID)}/reject`, {
      reason,
      ...(typeof options.digest === 'string' ? { digest: options.digest } : {}),
    });
  },
  render: (a) => [`approval ${a.id} is ${a.status}`],
});

export const approvalCommands: Command[] = [list, show, approve, reject] as Command[];
