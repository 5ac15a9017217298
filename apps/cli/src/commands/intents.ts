import type { Command } from '../command.ts';
import { gatewayCommand, integerOption, query, seg, table } from '../gateway/gateway-command.ts';
import type { IntentView } from '../gateway/views.ts';

interface OperatorIntent {
  agentId: string;
  valueUsd: string | null;
  intent: IntentView;
}
interface IntentDetail extends OperatorIntent {
  transactions: { txHash: string; nonce: number; kind: string; route: string }[];
  audit: { seq: number; at: string; actor: string; action: string }[];
  auditSegment: { ok: boolean | null } | null;
}

const list = gatewayCommand<{ items: OperatorIntent[]; nextCursor: string | null }>({
  path: ['intents', 'list'],
  summary: "every agent's intents, newest first, filtered",
  options: {
    agent: { type: 'string', value: 'AGENT_ID', description: 'only this agent' },
    status: { type: 'string', value: 'STATUS', description: 'only this status (received, pending_approval, …)' },
    chain: { type: 'string', value: 'CHAIN_ID', description: 'only this chain' },
    since: { type: 'string', value: 'ISO_TIME', description: 'created at or after' },
    until: { type: 'string', value: 'ISO_TIME', description: 'created before' },
    limit: { type: 'string', value: 'N', description: 'at most N (default 20)' },
    cursor: { type: 'string', value: 'CURSOR', description: 'the nextCursor of the previous page' },
  },
  run: (client, o) => {
    integerOption(o, 'limit');
    const q = query({
      agent: o.agent,
      status: o.status,
      chain: o.chain,
      since: o.since,
      until: o.until,
      limit: o.limit,
      cursor: o.cursor,
    });
    return client.call('GET', `/admin/intents${q}`);
  },
  render: (r) => [
    ...(r.items.length === 0
      ? ['no intents']
      : table([
          ['ID', 'STATUS', 'TYPE', 'CHAIN', 'AMOUNT', 'USD', 'TO'],
          ...r.items.map(({ intent: i, valueUsd }) => [
            i.id,
            i.status,
            i.type,
            String(i.chainId),
            `${i.amount} ${i.asset}`,
            valueUsd ?? '-',
            i.to ?? '-',
          ]),
        ])),
    ...(r.nextCursor ? [`more: --cursor ${r.nextCursor}`] : []),
  ],
});

const show = gatewayCommand<IntentDetail>({
  path: ['intents', 'show'],
  summary: 'one intent: its decision and reasons, money, transactions and audit trail',
  args: [{ name: 'ID', description: 'the intent id' }],
  run: (client, o) => client.call('GET', `/admin/intents/${seg(o.ID)}`),
  render: ({ intent: i, agentId, valueUsd, transactions, audit, auditSegment }) => [
    `intent   ${i.id}  ${i.status}  ${i.type} on chain ${i.chainId}  (agent ${agentId})`,
    `from     ${i.from}`,
    `to       ${i.to ?? '-'}`,
    `amount   ${i.amount} ${i.asset}${valueUsd ? `  (${valueUsd} USD)` : ''}`,
    `decision ${i.decision ? `${i.decision.action} by ${i.decision.policy ?? '-'}` : '-'}`,
    ...(i.decision?.reasons ?? []).map((r) => `  reason  ${r}`),
    ...(i.error ? [`error    ${i.error.code}: ${i.error.message}`] : []),
    ...transactions.map((t) => `tx       ${t.txHash}  nonce ${t.nonce}  ${t.kind}  ${t.route}`),
    `audit    ${audit.length} record(s), chain segment ${auditSegment?.ok === false ? 'BROKEN' : auditSegment?.ok ? 'verified' : 'not verified'}`,
    ...audit.map((a) => `  ${a.seq}  ${a.at}  ${a.action}  ${a.actor}`),
  ],
});

export const intentCommands: Command[] = [list, show] as Command[];
