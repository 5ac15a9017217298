import type pg from 'pg';
import { prepared } from '../db/pool.ts';
import type { PauseScope } from '../domain/halts.ts';
import { appendAudit, type AuditEntry } from './audit-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** NOTIFY channel of kill-switch and pause changes (a trigger in migrations/0016_killswitch.sql sends it). */
export const HALTS_CHANNEL = 'clawd402_halts';

export interface KillSwitchRecord {
  engaged: boolean;
  engagedAt: Date | null;
  engagedBy: string | null;
  reason: string | null;
  releaseVotes: string[];
  releasedAt: Date | null;
  releasedBy: string | null;
}

export interface PauseRecord {
  scope: PauseScope;
  pausedAt: Date;
  pausedBy: string;
  reason: string;
}

// Aliased to the record's names: the row is the record.
const KILLSWITCH_COLUMNS = `engaged, engaged_at AS "engagedAt", engaged_by AS "engagedBy", reason,
  release_votes AS "releaseVotes", released_at AS "releasedAt", released_by AS "releasedBy"`;

/** The kill switch row; `lock` takes its row lock (engage and release serialise on it). */
export async function readKillSwitch(db: Queryable, options: { lock?: boolean } = {}): Promise<KillSwitchRecord> {
  const { rows } = await db.query<KillSwitchRecord>(
    `SELECT ${KILLSWITCH_COLUMNS} FROM killswitch WHERE id${options.lock ? ' FOR UPDATE' : ''}`,
  );
  return rows[0]!;
}

/** Engage (inside the caller's transaction, with its audit record); the trigger notifies every process at COMMIT. */
export async function engageKillSwitch(
  db: Queryable,
  by: string,
  reason: string,
  audit: AuditEntry,
): Promise<KillSwitchRecord> {
  const { rows } = await db.query<KillSwitchRecord>(
    prepared(
      `UPDATE killswitch SET engaged = true, engaged_at = now(), engaged_by = $1, reason = $2, release_votes = '{}',
         released_at = NULL, released_by = NULL
       WHERE id RETURNING ${KILLSWITCH_COLUMNS}`,
      [by, reason],
    ),
  );
  await appendAudit(db, audit);
  return rows[0]!;
}

/** Record one owner's release vote (a second owner is required) without releasing. */
export async function addReleaseVote(db: Queryable, by: string, audit: AuditEntry): Promise<void> {
  await db.query(
    prepared(
      `UPDATE killswitch SET release_votes = array_append(release_votes, $1) WHERE id AND NOT ($1 = ANY(release_votes))`,
      [by],
    ),
  );
  await appendAudit(db, audit);
}

export async function releaseKillSwitch(db: Queryable, by: string, audit: AuditEntry): Promise<KillSwitchRecord> {
  const { rows } = await db.query<KillSwitchRecord>(
    prepared(
      `UPDATE killswitch SET engaged = false, released_at = now(), released_by = $1, release_votes = '{}'
       WHERE id RETURNING ${KILLSWITCH_COLUMNS}`,
      [by],
    ),
  );
  await appendAudit(db, audit);
  return rows[0]!;
}

export async function listPauses(db: Queryable): Promise<PauseRecord[]> {
  const { rows } = await db.query<{ scope: PauseScope; paused_at: Date; paused_by: string; reason: string }>(
    'SELECT scope, paused_at, paused_by, reason FROM pauses ORDER BY paused_at',
  );
  return rows.map((r) => ({ scope: r.scope, pausedAt: r.paused_at, pausedBy: r.paused_by, reason: r.reason }));
}

/** Pause a scope (audited); false when it already was. */
export async function insertPause(
  db: Queryable,
  scope: PauseScope,
  by: string,
  reason: string,
  audit: AuditEntry,
): Promise<boolean> {
  const { rowCount } = await db.query(
    prepared('INSERT INTO pauses (scope, paused_by, reason) VALUES ($1, $2, $3) ON CONFLICT (scope) DO NOTHING', [
      scope,
      by,
      reason,
    ]),
  );
  if (rowCount === 0) return false;
  await appendAudit(db, audit);
  return true;
}

/** Resume a scope (audited); false when it was not paused. */
export async function deletePause(db: Queryable, scope: PauseScope, audit: AuditEntry): Promise<boolean> {
  const { rowCount } = await db.query(prepared('DELETE FROM pauses WHERE scope = $1', [scope]));
  if (rowCount === 0) return false;
  await appendAudit(db, audit);
  return true;
}

/** What stops an intent of this agent, key and chain from being signed or approved, read in one round trip. */
export interface HaltFacts {
  killSwitch: boolean;
  /** The scopes among those asked about that are paused. */
  paused: PauseScope[];
  /** The agent is disabled, or the API key revoked or expired (approvals only ask). */
  inactive: boolean;
}

/** The halts that apply, as committed. A signing batch reads them with its locked intents (lockSigningBatch). */
export async function readHalts(
  db: Queryable,
  scopes: readonly PauseScope[],
  principal?: { agentId: string; apiKeyId: string | null },
): Promise<HaltFacts> {
  const { rows } = await db.query<{ engaged: boolean; paused: PauseScope[]; inactive: boolean }>(
    prepared(
      `SELECT (SELECT engaged FROM killswitch WHERE id) AS engaged,
              ARRAY(SELECT scope FROM pauses WHERE scope = ANY($1::text[])) AS paused,
              COALESCE((SELECT disabled_at IS NOT NULL FROM agents WHERE id = $2::uuid), false)
                OR COALESCE((SELECT revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= now())
                             FROM api_keys WHERE id = $3::uuid), false) AS inactive`,
      [scopes, principal?.agentId ?? null, principal?.apiKeyId ?? null],
    ),
  );
  const row = rows[0]!;
  return { killSwitch: row.engaged, paused: row.paused, inactive: row.inactive };
}

/** Whether the agent or API key a scope names exists (chains are checked against the registry by the caller). */
export async function pauseTargetExists(db: Queryable, scope: PauseScope): Promise<boolean> {
  const [kind, id] = scope.split(':') as ['agent' | 'key' | 'chain', string];
  if (kind === 'chain') return true;
  const table = kind === 'agent' ? 'agents' : 'api_keys';
  const { rowCount } = await db.query(prepared(`SELECT 1 FROM ${table} WHERE id = $1::uuid`, [id]));
  return rowCount === 1;
}
