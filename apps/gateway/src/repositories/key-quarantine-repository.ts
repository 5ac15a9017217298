import type pg from 'pg';
import { prepared, withTransaction } from '../db/pool.ts';
import { ALERT_KINDS } from '../domain/alert.ts';
import type { HygieneCategory } from '../domain/hygiene.ts';
import { raiseAlert } from './alerts-repository.ts';
import { appendAudit, appendAuditBatch, type Actor, type AuditEntry } from './audit-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Hits within QUARANTINE_WINDOW_SECONDS that quarantine a key. */
export const HITS_BEFORE_QUARANTINE = 3;
export const QUARANTINE_WINDOW_SECONDS = 60 * 60;
/** How long a quarantine lasts, from the hit that started it. */
export const QUARANTINE_SECONDS = 60 * 60;
/** Hits within DISABLE_WINDOW_SECONDS that revoke a key and raise a critical alert. */
export const HITS_BEFORE_DISABLE = 10;
export const DISABLE_WINDOW_SECONDS = 24 * 60 * 60;
/** `api_keys.revoked_reason` of a key revoked for its hits. */
export const HYGIENE_REVOKED_REASON = 'intent_hygiene';

export interface HygieneHit {
  apiKeyId: string;
  agentId: string;
  category: HygieneCategory;
  /** The rule's name (`phrase`, `private_key`, `canary`, …), never the text. */
  rule: string;
  field: string;
}

export interface HygieneHitOutcome {
  /** Hits of this key within the quarantine window, this one included. */
  hitsLastHour: number;
  /** Hits of this key within the last 24 hours, this one included. */
  hitsLastDay: number;
  /** When the key's quarantine ends, if it is in one after this hit. */
  quarantinedUntil: Date | null;
  /** This hit was the one that put the key in quarantine. */
  quarantineStarted: boolean;
  /** This hit revoked the key. */
  disabled: boolean;
}

/**
 * Count one hit against an API key and act on the count, in one statement: append the hit to the key's row (under
 * its row lock, so hits from concurrent requests and other processes are counted one after another and each sees
 * the exact count including itself), quarantine the key when the hour's count reaches HITS_BEFORE_QUARANTINE, revoke
 * it when the day's count reaches HITS_BEFORE_DISABLE, and raise an alert for each (`api_key_quarantined` warning,
 * `api_key_disabled` critical — the latter is the incident). The audit records (category and key id, never the
 * text) commit in the same transaction.
 */
export async function recordHygieneHit(pool: pg.Pool, hit: HygieneHit): Promise<HygieneHitOutcome> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{
      hour_hits: number;
      day_hits: number;
      quarantined_until: Date | null;
      disabled: boolean;
    }>(
      prepared(
        `WITH hit AS (
           INSERT INTO api_key_hygiene AS h (api_key_id, agent_id, hits, total_hits, last_category, last_hit_at, quarantined_until)
           VALUES ($1, $2, ARRAY[now()], 1, $3, now(), CASE WHEN 1 >= $4::int THEN now() + make_interval(secs => $6::int) END)
           ON CONFLICT (api_key_id) DO UPDATE SET
             hits = array(SELECT t FROM unnest(h.hits) AS t WHERE t > now() - make_interval(secs => $7::int) ORDER BY t) || now(),
             total_hits = h.total_hits + 1,
             last_category = EXCLUDED.last_category,
             last_hit_at = now(),
             quarantined_until = CASE
               WHEN (SELECT count(*) FROM unnest(h.hits) AS t WHERE t > now() - make_interval(secs => $5::int)) + 1 >= $4::int
               THEN now() + make_interval(secs => $6::int)
               ELSE h.quarantined_until END
           RETURNING hits, quarantined_until
         ), counted AS (
           SELECT (SELECT count(*) FROM unnest(hit.hits) AS t WHERE t > now() - make_interval(secs => $5::int))::int AS hour_hits,
                  cardinality(hit.hits) AS day_hits,
                  hit.quarantined_until
             FROM hit
         ), revoked AS (
           UPDATE api_keys SET revoked_at = now(), revoked_reason = $9
            WHERE id = $1 AND revoked_at IS NULL AND (SELECT day_hits FROM counted) >= $8::int
           RETURNING id
         )
         SELECT hour_hits, day_hits, quarantined_until, EXISTS (SELECT 1 FROM revoked) AS disabled FROM counted`,
        [
          hit.apiKeyId,
          hit.agentId,
          hit.category,
          HITS_BEFORE_QUARANTINE,
          QUARANTINE_WINDOW_SECONDS,
          QUARANTINE_SECONDS,
          DISABLE_WINDOW_SECONDS,
          HITS_BEFORE_DISABLE,
          HYGIENE_REVOKED_REASON,
        ],
      ),
    );
    const row = rows[0]!;
    const now = new Date();
    const outcome: HygieneHitOutcome = {
      hitsLastHour: row.hour_hits,
      hitsLastDay: row.day_hits,
      quarantinedUntil: row.quarantined_until && row.quarantined_until > now ? row.quarantined_until : null,
      // Counts rise one hit at a time under the row lock, so exactly one hit sees the threshold itself.
      quarantineStarted: row.hour_hits === HITS_BEFORE_QUARANTINE,
      disabled: row.disabled,
    };
    const subject = `api_key:${hit.apiKeyId}`;
    const entries: AuditEntry[] = [
      {
        actor: `agent:${hit.agentId}`,
        action: 'intent.hygiene_refused',
        subject,
        data: {
          apiKeyId: hit.apiKeyId,
          category: hit.category,
          rule: hit.rule,
          field: hit.field,
          hitsLastHour: outcome.hitsLastHour,
          hitsLastDay: outcome.hitsLastDay,
        },
      },
    ];
    if (outcome.quarantineStarted && row.quarantined_until) {
      entries.push({
        actor: 'system:gateway',
        action: 'api_key.quarantined',
        subject,
        data: {
          apiKeyId: hit.apiKeyId,
          agentId: hit.agentId,
          until: row.quarantined_until.toISOString(),
          hitsLastHour: outcome.hitsLastHour,
          reason: HYGIENE_REVOKED_REASON,
        },
      });
    }
    if (outcome.disabled) {
      entries.push({
        actor: 'system:gateway',
        action: 'api_key.revoked',
        subject,
        data: {
          apiKeyId: hit.apiKeyId,
          agentId: hit.agentId,
          hitsLastDay: outcome.hitsLastDay,
          reason: HYGIENE_REVOKED_REASON,
        },
      });
    }
    await appendAuditBatch(client, entries);
    const alerts = [
      outcome.quarantineStarted && {
        kind: 'api_key_quarantined' as const,
        summary: `quarantined after ${outcome.hitsLastHour} hygiene hits in an hour`,
        detail: { until: row.quarantined_until?.toISOString() ?? null, hitsLastHour: outcome.hitsLastHour },
      },
      outcome.disabled && {
        kind: 'api_key_disabled' as const,
        summary: `revoked after ${outcome.hitsLastDay} hygiene hits in a day`,
        detail: { reason: HYGIENE_REVOKED_REASON, hitsLastDay: outcome.hitsLastDay },
      },
    ];
    for (const alert of alerts) {
      if (!alert) continue;
      await raiseAlert(client, {
        kind: alert.kind,
        severity: ALERT_KINDS[alert.kind],
        subject,
        summary: `API key ${hit.apiKeyId} of agent ${hit.agentId} ${alert.summary}`,
        detail: { apiKeyId: hit.apiKeyId, agentId: hit.agentId, ...alert.detail },
      });
    }
    return outcome;
  });
}

/** The key's hit record, for operators and tests; null when it never had a hit. */
export async function findKeyHygiene(
  db: Queryable,
  apiKeyId: string,
): Promise<{
  hitsLastDay: number;
  totalHits: bigint;
  lastCategory: HygieneCategory;
  lastHitAt: Date;
  quarantinedUntil: Date | null;
} | null> {
  const { rows } = await db.query<{
    day_hits: number;
    total_hits: string;
    last_category: HygieneCategory;
    last_hit_at: Date;
    quarantined_until: Date | null;
  }>(
    `SELECT (SELECT count(*) FROM unnest(hits) AS t WHERE t > now() - make_interval(secs => $2::int))::int AS day_hits,
            total_hits, last_category, last_hit_at, quarantined_until
       FROM api_key_hygiene WHERE api_key_id = $1`,
    [apiKeyId, DISABLE_WINDOW_SECONDS],
  );
  const row = rows[0];
  return row
    ? {
        hitsLastDay: row.day_hits,
        totalHits: BigInt(row.total_hits),
        lastCategory: row.last_category,
        lastHitAt: row.last_hit_at,
        quarantinedUntil: row.quarantined_until,
      }
    : null;
}

/**
 * An operator lifts a key's quarantine early: the quarantine ends now and the hits counted toward the next one start
 * again from zero (the lifetime total stays). Audited with who and why. False when the key is not in quarantine.
 */
export async function releaseQuarantine(
  client: Queryable,
  apiKeyId: string,
  actor: Actor,
  reason: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE api_key_hygiene SET quarantined_until = NULL, hits = '{}' WHERE api_key_id = $1 AND quarantined_until > now()`,
    [apiKeyId],
  );
  if (rowCount !== 1) return false;
  await appendAudit(client, {
    actor,
    action: 'api_key.quarantine_released',
    subject: `api_key:${apiKeyId}`,
    data: { reason },
  });
  return true;
}
