import type pg from 'pg';
import type { Decision, IntentOrigin } from '@clawd402/protocol';
import { classifiedWrite } from '../db/errors.ts';
import { SqlConditions } from '../db/sql-conditions.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Held (transaction-scoped) while a version number is allocated or the boot import decides whether to run. */
const POLICY_LOCK = 402402006;

/** Channel the `policy_active` trigger notifies on (migrations/0006_policy_versions.sql); the payload is the version. */
export const POLICY_CHANNEL = 'clawd402_policy';

export type PolicyTextFormat = 'yaml' | 'json';

/** What the linter said about a version when it was created. Issues are stored as the linter returned them. */
export interface PolicyLint {
  errors: readonly unknown[];
  warnings: readonly unknown[];
}

export interface PolicyVersionSummary {
  version: number;
  hash: string;
  format: PolicyTextFormat;
  /** A user id, or 'system' for the boot import of POLICY_FILE. */
  author: string;
  createdAt: Date;
  lint: PolicyLint;
}

export interface PolicyVersionRecord extends PolicyVersionSummary {
  content: string;
}

export interface ActivePolicy {
  version: number;
  hash: string;
  activatedBy: string;
  activatedAt: Date;
}

interface VersionRow {
  version: number;
  hash: string;
  format: PolicyTextFormat;
  author: string;
  created_at: Date;
  lint: { errors?: unknown; warnings?: unknown } | null;
  content?: string;
}

const SUMMARY_COLUMNS = 'version, hash, format, author, created_at, lint';

function toLint(raw: VersionRow['lint']): PolicyLint {
  return {
    errors: Array.isArray(raw?.errors) ? raw.errors : [],
    warnings: Array.isArray(raw?.warnings) ? raw.warnings : [],
  };
}

function toSummary(row: VersionRow): PolicyVersionSummary {
  return {
    version: row.version,
    hash: row.hash,
    format: row.format,
    author: row.author,
    createdAt: row.created_at,
    lint: toLint(row.lint),
  };
}

/**
 * Take the policy lock for the rest of the caller's transaction. Allocating a version number and the boot import's
 * "is anything active?" check both run under it, so concurrent creators and gateways booting together serialise.
 */
export async function lockPolicies(client: Queryable): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [POLICY_LOCK]);
}

/** Store a new version with the next number. Call inside a transaction; takes the policy lock itself. */
export async function insertPolicyVersion(
  client: Queryable,
  input: { content: string; format: PolicyTextFormat; hash: string; author: string; lint: PolicyLint },
): Promise<PolicyVersionSummary> {
  await lockPolicies(client);
  return classifiedWrite(async () => {
    const { rows } = await client.query<VersionRow>(
      `INSERT INTO policy_versions (version, content, format, hash, author, lint)
       SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4, $5::jsonb FROM policy_versions
       RETURNING ${SUMMARY_COLUMNS}`,
      [
        input.content,
        input.format,
        input.hash,
        input.author,
        JSON.stringify({ errors: input.lint.errors, warnings: input.lint.warnings }),
      ],
    );
    return toSummary(rows[0]!);
  });
}

/** One version with its text, or null. */
export async function findPolicyVersion(db: Queryable, version: number): Promise<PolicyVersionRecord | null> {
  const { rows } = await db.query<VersionRow>(
    `SELECT ${SUMMARY_COLUMNS}, content FROM policy_versions WHERE version = $1`,
    [version],
  );
  const row = rows[0];
  return row ? { ...toSummary(row), content: row.content! } : null;
}

/** Versions, newest first, without their text; only those with `hash` when given; those below `before` when given. */
export async function listPolicyVersions(
  db: Queryable,
  options: { hash?: string; before?: number; limit: number },
): Promise<PolicyVersionSummary[]> {
  const c = new SqlConditions();
  if (options.hash !== undefined) c.add('hash = ?', options.hash);
  if (options.before !== undefined) c.add('version < ?', options.before);
  const { rows } = await db.query<VersionRow>(
    `SELECT ${SUMMARY_COLUMNS} FROM policy_versions ${c.where()} ORDER BY version DESC LIMIT ${c.param(options.limit)}`,
    c.params,
  );
  return rows.map(toSummary);
}

/** The active pointer with its version's hash, or null when nothing was ever activated. */
export async function findActivePolicy(db: Queryable): Promise<ActivePolicy | null> {
  const { rows } = await db.query<{ version: number; hash: string; activated_by: string; activated_at: Date }>(
    `SELECT a.version, v.hash, a.activated_by, a.activated_at
       FROM policy_active a JOIN policy_versions v ON v.version = a.version`,
  );
  const row = rows[0];
  return row
    ? { version: row.version, hash: row.hash, activatedBy: row.activated_by, activatedAt: row.activated_at }
    : null;
}

/** The active version and its text in one read (what every gateway process loads). */
export async function findActivePolicyVersion(
  db: Queryable,
): Promise<(PolicyVersionRecord & { activatedBy: string; activatedAt: Date }) | null> {
  const { rows } = await db.query<VersionRow & { activated_by: string; activated_at: Date }>(
    `SELECT v.version, v.hash, v.format, v.author, v.created_at, v.lint, v.content, a.activated_by, a.activated_at
       FROM policy_active a JOIN policy_versions v ON v.version = a.version`,
  );
  const row = rows[0];
  return row
    ? { ...toSummary(row), content: row.content!, activatedBy: row.activated_by, activatedAt: row.activated_at }
    : null;
}

/** Just the active version number (the once-a-second poll), or null. */
export async function activePolicyVersionNumber(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ version: number }>('SELECT version FROM policy_active');
  return rows[0]?.version ?? null;
}

/**
 * Point the active pointer at `version` (the trigger notifies every gateway at COMMIT). Returns the version that
 * was active before, or null. Call inside a transaction that also appends the audit record.
 */
export async function activatePolicyVersion(
  client: Queryable,
  version: number,
  activatedBy: string,
): Promise<{ previous: number | null; activatedAt: Date }> {
  return classifiedWrite(async () => {
    const before = await client.query<{ version: number }>('SELECT version FROM policy_active FOR UPDATE');
    const { rows } = await client.query<{ activated_at: Date }>(
      `INSERT INTO policy_active (id, version, activated_by, activated_at) VALUES (true, $1, $2, now())
       ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, activated_by = EXCLUDED.activated_by, activated_at = EXCLUDED.activated_at
       RETURNING activated_at`,
      [version, activatedBy],
    );
    return { previous: before.rows[0]?.version ?? null, activatedAt: rows[0]!.activated_at };
  });
}

/** A stored intent as policy replay needs it: the facts it was decided on and the decision it got. */
export interface ReplayIntentRow {
  id: string;
  agentId: string;
  apiKeyId: string | null;
  type: 'transfer' | 'contract_call';
  chainId: number;
  recipient: string;
  asset: string;
  amount: bigint;
  decimals: number;
  data: string | null;
  /** USD value in micro-dollars when the schema records one (migrations/0005_money.sql) and it was known. */
  valueUsdMicros: bigint | null;
  /** The surface it came through; null when recorded before migration 0022. */
  origin: IntentOrigin | null;
  decision: Decision;
  createdAt: Date;
}

/**
 * The last `limit` decided intents, newest first. Reads `value_usd_micros` only if that column exists (it arrives
 * with migrations/0005_money.sql); otherwise every USD value is unknown.
 */
export async function recentDecidedIntents(db: Queryable, limit: number): Promise<ReplayIntentRow[]> {
  const usd = await db.query(
    `SELECT 1 FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'intents' AND column_name = 'value_usd_micros'`,
  );
  const usdColumn = usd.rowCount ? 'value_usd_micros' : 'NULL::bigint';
  const { rows } = await db.query<{
    id: string;
    agent_id: string;
    api_key_id: string | null;
    type: 'transfer' | 'contract_call';
    chain_id: string;
    recipient: string;
    asset: string;
    amount: string;
    decimals: number;
    data: string | null;
    value_usd_micros: string | null;
    origin: IntentOrigin | null;
    decision: Decision;
    created_at: Date;
  }>(
    `SELECT id, agent_id, api_key_id, type, chain_id, recipient, asset, amount, decimals, data, ${usdColumn} AS value_usd_micros, origin, decision, created_at
       FROM intents WHERE decision IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    agentId: r.agent_id,
    apiKeyId: r.api_key_id,
    type: r.type,
    chainId: Number(r.chain_id),
    recipient: r.recipient,
    asset: r.asset,
    amount: BigInt(r.amount),
    decimals: r.decimals,
    data: r.data,
    valueUsdMicros: r.value_usd_micros === null ? null : BigInt(r.value_usd_micros),
    origin: r.origin,
    decision: r.decision,
    createdAt: r.created_at,
  }));
}

/** True when an agent with this id exists (a dry-run of a single intent names one). */
export async function agentExists(db: Queryable, agentId: string): Promise<boolean> {
  return (await agentSignerAddress(db, agentId)) !== null;
}

/** The signer address an agent signs with, or null when there is no such agent (a dry-run decodes calls from it). */
export async function agentSignerAddress(db: Queryable, agentId: string): Promise<string | null> {
  const { rows } = await db.query<{ signer_address: string }>('SELECT signer_address FROM agents WHERE id = $1', [
    agentId,
  ]);
  return rows[0]?.signer_address ?? null;
}
