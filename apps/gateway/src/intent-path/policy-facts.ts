import type pg from 'pg';
import type { Address } from 'viem';
import type { AvailableFacts, IntentFacts, PolicySet } from '@clawd402/policy';
import { evaluate } from '@clawd402/policy';
import type { Decision, IntentOrigin, SimulationView } from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { ApprovalGrant } from '../chain/simulator.ts';
import type { VerifiedContracts } from '../chain/verified-contracts.ts';
import type { AgentContext } from '../domain/agent.ts';
import type { NormalizedIntent } from '../domain/intent.ts';
import { parseUsd, type UsdMicros } from '../domain/usd.ts';
import { agentScope, readSpend, type ScopeSpend } from '../repositories/spend-repository.ts';
import { decode, effectFacts, selectorOf, type Decoded } from './04-decode.ts';
import { valueIntent, type ValueDeps } from './06-value.ts';

/**
 * The one place policy facts are built: live decisions (07-decide.ts), the dry-run of one intent and the replay of
 * stored ones (policy/replay.ts) all call {@link policyFacts}, and contract calls get their decoded facts from
 * {@link transactionFacts} in live decisions and dry-runs alike, so the three decide on the same facts. A fact that
 * cannot be known (a replay does not know the spend windows before a past intent) stays absent: the conditions that
 * need it answer unknown and their rules fail closed.
 */

/** What the simulation adds to the policy facts (docs/simulation.md). Absent when it was skipped. */
export interface SimulationFacts {
  readonly netOutflowUsd?: UsdMicros;
  readonly newApprovals: readonly { asset: Address; spender: Address; amount?: bigint; unlimited: boolean }[];
  readonly recipientsTouched: readonly Address[];
}

/** An intent's USD value as the policy sees it: a usable price, or why there is none. */
export type ValueFact = { readonly status: 'ok'; readonly usd: UsdMicros } | { readonly status: 'unknown' | 'stale' };

export interface FactSource {
  readonly intent: {
    readonly type: IntentFacts['type'];
    readonly chainId: number;
    readonly recipient: string;
    readonly asset: string;
    readonly amount: bigint;
    readonly decimals: number;
    /** Calldata of a contract call: its selector becomes a fact (decoded facts in `extra` take precedence). */
    readonly data?: string | null;
  };
  readonly agentId: string;
  readonly apiKeyId?: string | null;
  /** The surface the intent came through; absent or null where it is not known (a replay of an older intent). */
  readonly origin?: IntentOrigin | null;
  /** Absent: the value is not known here at all (no `priceStatus` either). */
  readonly value?: ValueFact | null;
  /** The agent's rolling spend, read under the decision lock; absent where it cannot be known. */
  readonly spend?: Pick<ScopeSpend, 'dayUsd' | 'hourUsd' | 'dayCount' | 'hourCount'>;
  /** When the decision is (or was) made, epoch ms. */
  readonly now: number;
  /** Facts found beyond the intent's own (decoded call, verification, simulation, typed data…); merged last. */
  readonly extra?: Partial<IntentFacts>;
}

/** Who submitted the intent, as far as the facts need it (the origin is unknown to a dry-run). */
export type FactPrincipal = Pick<AgentContext, 'agentId' | 'apiKeyId'> & { readonly origin?: IntentOrigin | null };

/** The facts one policy evaluation decides on. */
export function policyFacts(source: FactSource): AvailableFacts {
  const { intent, value, spend } = source;
  const selector =
    intent.type === 'contract_call' && intent.data && /^0x[0-9a-fA-F]{8}/.test(intent.data)
      ? (intent.data.slice(0, 10).toLowerCase() as `0x${string}`)
      : undefined;
  return {
    type: intent.type,
    chainId: intent.chainId,
    recipient: intent.recipient as Address,
    asset: intent.asset === 'native' ? 'native' : (intent.asset as Address),
    amount: intent.amount,
    decimals: intent.decimals,
    agentId: source.agentId,
    ...(source.apiKeyId ? { apiKeyId: source.apiKeyId } : {}),
    ...(source.origin
      ? { origin: { channel: source.origin.channel, ...(source.origin.tool ? { tool: source.origin.tool } : {}) } }
      : {}),
    ...(selector ? { selector } : {}),
    ...(value ? { priceStatus: value.status, ...(value.status === 'ok' ? { valueUsd: value.usd } : {}) } : {}),
    ...(spend
      ? {
          spend: { dayUsd: spend.dayUsd, hourUsd: spend.hourUsd, dayCount: spend.dayCount, hourCount: spend.hourCount },
        }
      : {}),
    now: source.now,
    ...source.extra,
  };
}

export interface TransactionFactsDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  verifiedContracts: VerifiedContracts;
  policy: () => PolicySet;
}

const ACTION_RANK: Record<Decision['action'], number> = { auto_approve: 0, require_human_approval: 1, reject: 2 };

/**
 * The facts a transaction intent adds over its own: transfers and swaps never grant an approval and carry the called
 * contract's verified flag; a contract call carries the facts of one decoded effect — with several effects the
 * decision must hold for every one, so each is evaluated against the active policy (with the agent's current spend)
 * and the facts of the strictest decision are the ones decided on. An unknown selector stays a `contract_call` with
 * that selector. The simulation's findings are added when it ran.
 */
export async function transactionFacts(
  deps: TransactionFactsDeps,
  request: {
    principal: FactPrincipal;
    intent: NormalizedIntent;
    decoded: Decoded;
    value: ValueFact;
    simulation: SimulationView | null;
    grants: readonly ApprovalGrant[];
    /** The set that picks the strictest effect; the active one unless a dry-run names a candidate. */
    policy?: PolicySet;
  },
): Promise<Partial<IntentFacts>> {
  const { principal, intent, value, simulation, grants } = request;
  const decoded = request.decoded.call;
  const { verifiedContracts } = deps;
  const simulated: { simulation?: SimulationFacts } =
    simulation === null || simulation.status === 'skipped'
      ? {}
      : {
          simulation: {
            ...(simulation.netOutflowUsd === null || simulation.netOutflowUsd.startsWith('-')
              ? {}
              : { netOutflowUsd: parseUsd(simulation.netOutflowUsd)! }),
            newApprovals: grants.map((g) => ({
              asset: g.asset,
              spender: g.spender,
              ...(g.amount === null ? {} : { amount: g.amount }),
              unlimited: g.kind === 'approval_for_all' ? g.approved : g.amount !== null && g.amount >= 1n << 255n,
            })),
            recipientsTouched: simulation.recipients as Address[],
          },
        };
  if (decoded === null) {
    const target = intent.type === 'swap' ? intent.call.to : intent.asset === 'native' ? null : intent.call.to;
    return {
      unlimitedApproval: false,
      ...(intent.type === 'swap' ? { selector: selectorOf(intent.call.data) } : {}),
      ...(target === null ? {} : { contractVerified: await verifiedContracts.isVerified(intent.chainId, target) }),
      ...simulated,
    };
  }
  const candidates = await Promise.all(
    decoded.effects.map((effect) => effectFacts(deps, intent.chainId, decoded, effect)),
  );
  if (candidates.length === 0) {
    return {
      selector: decoded.selector ?? undefined,
      contractVerified: await verifiedContracts.isVerified(intent.chainId, intent.call.to),
      ...simulated,
    };
  }
  const chosen =
    candidates.length === 1
      ? candidates[0]!
      : await strictest(deps, request.policy ?? deps.policy(), principal, intent, value, candidates);
  return { ...chosen, ...simulated };
}

/**
 * Evaluate each effect against the active policy with the facts the decision will add (the agent's spend read now,
 * the intent's value) and return the facts of the strictest decision: reject over human approval over auto-approve;
 * among rejects, a matched rule (a blacklist) over an unknown fact over the default deny. The decision evaluates
 * those facts again under its lock.
 */
async function strictest(
  deps: TransactionFactsDeps,
  policy: PolicySet,
  principal: FactPrincipal,
  intent: NormalizedIntent,
  value: ValueFact,
  candidates: Partial<IntentFacts>[],
): Promise<Partial<IntentFacts>> {
  const scope = agentScope(principal.agentId);
  const spend = (await readSpend(deps.pool, [scope])).get(scope)!;
  const now = Date.now();
  let best: { facts: Partial<IntentFacts>; rank: number } | null = null;
  for (const candidate of candidates) {
    const decision = evaluate(
      policy,
      policyFacts({
        intent,
        agentId: principal.agentId,
        apiKeyId: principal.apiKeyId,
        origin: principal.origin,
        value,
        spend,
        now,
        extra: candidate,
      }),
    );
    const rank = ACTION_RANK[decision.action] * 10 + (decision.action === 'reject' ? rejectRank(decision) : 0);
    if (best === null || rank > best.rank) best = { facts: candidate, rank };
  }
  return best!.facts;
}

function rejectRank(decision: Decision): number {
  if (decision.policy === null) return 1; // default deny
  if (decision.reasons.some((r) => r.code === 'policy.condition_unknown_fact' || r.code.startsWith('price.'))) return 2;
  return 3; // a rule that matched: a blacklist, an explicit reject
}

/**
 * Whether the rule that decides `intent` on its own facts (no simulation, value or spend: those conditions answer
 * unknown and never grant a waiver) carries `simulation: waived` and does not reject.
 */
export function simulationWaived(set: PolicySet, principal: FactPrincipal, intent: NormalizedIntent): boolean {
  const decision = evaluate(
    set,
    policyFacts({
      intent: { ...intent, data: null },
      agentId: principal.agentId,
      apiKeyId: principal.apiKeyId,
      origin: principal.origin,
      now: Date.now(),
    }),
  );
  if (decision.action === 'reject' || decision.policy === null) return false;
  if (decision.reasons.some((r) => r.code !== 'policy.rule_matched')) return false;
  return set.rules.find((r) => r.name === decision.policy)?.conditions['simulation'] === 'waived';
}

/**
 * The facts a live decision would have for `intent` now, for a dry-run against `policy`: decoded like a live intent
 * (04-decode.ts), valued like one (06-value.ts), with the agent's current spend and the contracts' verification. Only
 * the simulation is left out (a dry-run does not simulate), so its conditions answer unknown.
 */
export async function dryRunFacts(
  deps: TransactionFactsDeps & ValueDeps,
  request: { agentId: string; from: Address; intent: NormalizedIntent; policy: PolicySet },
): Promise<AvailableFacts> {
  const { agentId, from, intent, policy } = request;
  const decoded = decode(intent, from);
  const scope = agentScope(agentId);
  const [value, spend] = await Promise.all([valueIntent(deps, intent, decoded), readSpend(deps.pool, [scope])]);
  const principal = { agentId, apiKeyId: '' };
  const extra = await transactionFacts(deps, {
    principal,
    intent,
    decoded,
    value,
    simulation: null,
    grants: [],
    policy,
  });
  return policyFacts({
    intent: { ...intent, data: null },
    agentId,
    value,
    spend: spend.get(scope),
    now: Date.now(),
    extra,
  });
}
