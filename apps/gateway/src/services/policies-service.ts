import type pg from 'pg';
import { getAddress } from 'viem';
import { evaluate, type PolicyFormat, type PolicySet } from '@clawd402/policy';
import { Clawd402Error, type TransactionIntentBody } from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { VerifiedContracts } from '../chain/verified-contracts.ts';
import type { UserPrincipal } from '../domain/principal.ts';
import type { PriceBook } from '../money/price-book.ts';
import { normalizeIntent } from '../intent-path/03-normalize.ts';
import { dryRunFacts } from '../intent-path/policy-facts.ts';
import { compilePolicy, type LoadedPolicy, type PolicyStore } from '../policy/policy-store.ts';
import { replayDecisions, type ReplayResult } from '../policy/replay.ts';
import { auditedChange } from './audited-change.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import {
  activatePolicyVersion,
  agentSignerAddress,
  findActivePolicy,
  findPolicyVersion,
  insertPolicyVersion,
  listPolicyVersions,
  recentDecidedIntents,
  type ActivePolicy,
  type PolicyLint,
  type PolicyVersionRecord,
  type PolicyVersionSummary,
} from '../repositories/policies-repository.ts';

export type {
  ActivePolicy,
  PolicyLint,
  PolicyVersionRecord,
  PolicyVersionSummary,
} from '../repositories/policies-repository.ts';
export type { DecisionChange } from '../policy/replay.ts';

type Decision = ReturnType<typeof evaluate>;

/** What a dry-run decides: one intent (with the active set's decision beside it), or a replay of stored intents. */
export type DryRunResult =
  | { hash: string; lint: PolicyLint; decision: Decision; active: { version: number; decision: Decision } }
  | { hash: string; lint: PolicyLint; replay: ReplayResult };

/**
 * Policy sets as numbered, immutable versions in Postgres (docs/policy-lifecycle.md): upload → lint → activate, and
 * dry-runs that decide with a candidate set and write nothing but their audit record.
 */
export class PoliciesService {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      store: PolicyStore;
      chains: ChainRegistry;
      prices: PriceBook;
      verifiedContracts: VerifiedContracts;
    },
  ) {}

  /**
   * Lint a candidate text and write nothing (the console's editor calls it as the operator types): a text that does
   * not load answers `policy_invalid` with the loader's issues, one that loads answers its lint findings.
   */
  async lint(content: string, format: PolicyFormat): Promise<{ hash: string; lint: PolicyLint }> {
    const set = compilePolicy(content, format);
    return { hash: set.hash, lint: await this.deps.store.lint(set) };
  }

  /** Store a new version (compiled first: a set this build cannot decide with is refused), with its lint, audited. */
  async upload(
    actor: UserPrincipal,
    content: string,
    format: PolicyFormat,
  ): Promise<{ version: number; hash: string; lint: PolicyLint }> {
    const set = compilePolicy(content, format);
    const lint = await this.deps.store.lint(set);
    const created = await auditedChange(
      this.deps.pool,
      (client) => insertPolicyVersion(client, { content, format, hash: set.hash, author: actor.userId, lint }),
      (version) => ({
        actor: `user:${actor.userId}`,
        action: 'policy.created',
        subject: `policy:${version.version}`,
        data: {
          version: version.version,
          hash: set.hash,
          format,
          lintErrors: lint.errors.length,
          lintWarnings: lint.warnings.length,
        },
      }),
    );
    return { version: created.version, hash: created.hash, lint };
  }

  /** The active version in Postgres, what this process decides with now, and a page of versions, newest first. */
  async list(filter: {
    hash?: string;
    before?: number;
    limit: number;
  }): Promise<{ active: ActivePolicy | null; loaded: LoadedPolicy; items: PolicyVersionSummary[] }> {
    const [active, items] = await Promise.all([
      findActivePolicy(this.deps.pool),
      listPolicyVersions(this.deps.pool, filter),
    ]);
    return { active, loaded: this.deps.store.active(), items };
  }

  /** One version with its text, and whether it is the active one; `not_found` otherwise. */
  async get(version: number): Promise<{ record: PolicyVersionRecord; active: boolean }> {
    const [found, active] = await Promise.all([
      findPolicyVersion(this.deps.pool, version),
      findActivePolicy(this.deps.pool),
    ]);
    if (!found) throw new Clawd402Error('not_found', 'No such policy version.');
    return { record: found, active: active?.version === found.version };
  }

  /**
   * Make a version the active one (audited); this process switches at once, the others on the NOTIFY or their next
   * poll. Activating the active version changes nothing (`changed: false`).
   */
  async activate(
    actor: UserPrincipal,
    version: number,
  ): Promise<{
    version: number;
    hash: string;
    previousVersion: number | null;
    activatedBy: string;
    activatedAt: Date;
    changed: boolean;
  }> {
    const { pool, store } = this.deps;
    const found = await findPolicyVersion(pool, version);
    if (!found) throw new Clawd402Error('not_found', 'No such policy version.');
    // This build must be able to decide with it (fail closed otherwise), and it must lint clean both as stored and
    // against the installation as it is now (a notification channel may have gone since the upload).
    const set = compilePolicy(found.content, found.format);
    const now = await store.lint(set);
    const errors = now.errors.length > 0 ? now.errors : found.lint.errors;
    if (errors.length > 0) {
      throw new Clawd402Error(
        'policy_lint_errors',
        `Version ${version} has ${errors.length} lint error(s) and cannot be activated.`,
        {
          details: { version, errors },
        },
      );
    }
    const current = await findActivePolicy(pool);
    if (current?.version === version) {
      return {
        version,
        hash: found.hash,
        previousVersion: version,
        activatedBy: current.activatedBy,
        activatedAt: current.activatedAt,
        changed: false,
      };
    }
    const activated = await auditedChange(
      pool,
      (client) => activatePolicyVersion(client, version, actor.userId),
      (result) => ({
        actor: `user:${actor.userId}`,
        action: 'policy.activated',
        subject: `policy:${version}`,
        data: { version, hash: found.hash, previousVersion: result.previous },
      }),
    );
    await store.refresh();
    return {
      version,
      hash: found.hash,
      previousVersion: activated.previous,
      activatedBy: actor.userId,
      activatedAt: activated.activatedAt,
      changed: true,
    };
  }

  /**
   * Decide with a candidate set without activating it: one intent (as POST /v1/intents takes it, from `agentId`) on the
   * facts a live decision would have now, or the last `replay.last` stored intents. Writes only its audit record.
   */
  async dryRun(
    actor: UserPrincipal,
    input: {
      policy: string;
      format?: PolicyFormat;
      intent?: TransactionIntentBody & { agentId: string };
      replay?: { last: number };
    },
  ): Promise<DryRunResult> {
    const { pool, store, chains, prices, verifiedContracts } = this.deps;
    const candidate = compilePolicy(input.policy, input.format ?? 'yaml');
    const lint = await store.lint(candidate);
    const audit = (data: Record<string, unknown>) =>
      appendAudit(pool, {
        actor: `user:${actor.userId}`,
        action: 'policy.dry_run',
        subject: null,
        data: { hash: candidate.hash, ...data },
      });

    if (input.intent) {
      const { agentId, ...intent } = input.intent;
      const from = await agentSignerAddress(pool, agentId);
      if (from === null)
        throw new Clawd402Error('not_found', 'No such agent.', { details: { field: 'intent.agentId' } });
      const normalized = await normalizeIntent(intent, chains);
      // The facts a live decision would have now (intent-path/policy-facts.ts, the builder live decisions use): the call
      // decoded, its value, the agent's spend so far, contract verification. Only the simulation is left out.
      const factsFor = (policy: PolicySet) =>
        dryRunFacts(
          { pool, chains, prices, verifiedContracts, policy: () => policy },
          { agentId, from: getAddress(from), intent: normalized, policy },
        );
      const facts = await factsFor(candidate);
      const decision = evaluate(candidate, facts);
      const loaded = store.active();
      const activeDecision = evaluate(store.current(), await factsFor(store.current()));
      await audit({ mode: 'intent', agentId, action: decision.action, policy: decision.policy });
      return { hash: candidate.hash, lint, decision, active: { version: loaded.version, decision: activeDecision } };
    }

    const last = input.replay!.last;
    const result = replayDecisions(candidate, await recentDecidedIntents(pool, last));
    await audit({ mode: 'replay', last, evaluated: result.totals.evaluated, changed: result.totals.changed });
    return { hash: candidate.hash, lint, replay: result };
  }
}
