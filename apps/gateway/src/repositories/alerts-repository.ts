import type pg from 'pg';
import {
  ALERT_KIND,
  ALERT_SEVERITIES,
  type AlertInput,
  type AlertRecord,
  type AlertSeverity,
  type AlertStatus,
} from '../domain/alert.ts';
import { ackResolveParams, ackResolveUpdate, type AckResolveTarget } from './ack-resolve.ts';
import { appendAudit, type Actor } from './audit-repository.ts';
import { enqueueNotification } from './notifications-repository.ts';
import { SqlConditions } from '../db/sql-conditions.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

export type { AlertInput, AlertSeverity } from '../domain/alert.ts';

/** The Postgres channel the alert router LISTENs on; raiseAlert notifies it (delivered at COMMIT). */
export const ALERTS_CHANNEL = 'clawd402_alerts';

/** Every column, named as AlertRecord names it, so a row is the record. */
const COLUMNS = `id, at, kind, severity, subject, summary, detail, status, occurrences, last_at AS "lastAt", channels,
  routed_at AS "routedAt", digested_at AS "digestedAt", acknowledged_at AS "acknowledgedAt",
  acknowledged_by AS "acknowledgedBy", resolved_at AS "resolvedAt", resolved_by AS "resolvedBy"`;

/**
 * Raise an alert: the one way anything writes to `alerts`. Call it with the client of the transaction that makes the
 * change it reports (a block, a revocation), so the alert commits or rolls back with it; a pool works too. The alert
 * router (apps/gateway/src/alerts/alert-router.ts) then folds a repeat of the same kind and subject within the
 * deduplication window into the first, and routes the rest by severity to the notification channels. Returns its id.
 *
 * Throws a TypeError for a malformed alert (a bug in the caller).
 */
export async function raiseAlert(db: Queryable, alert: AlertInput): Promise<string> {
  if (!ALERT_KIND.test(alert.kind)) throw new TypeError(`alert kind ${JSON.stringify(alert.kind)} is not snake_case`);
  if (!ALERT_SEVERITIES.includes(alert.severity)) throw new TypeError(`alert severity ${alert.severity} is unknown`);
  if (alert.subject.length < 1 || alert.subject.length > 200) throw new TypeError('alert subject must be 1–200 chars');
  if (alert.summary.length < 1 || alert.summary.length > 500) throw new TypeError('alert summary must be 1–500 chars');
  const { rows } = await db.query<{ id: string }>(
    `WITH inserted AS (
       INSERT INTO alerts (kind, severity, subject, summary, detail) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id
     ), woken AS (SELECT pg_notify('${ALERTS_CHANNEL}', id::text) FROM inserted)
     SELECT id FROM inserted, (SELECT count(*) FROM woken) AS w`,
    [alert.kind, alert.severity, alert.subject, alert.summary, JSON.stringify(alert.detail)],
  );
  return rows[0]!.id;
}

/** One alert the router claimed, and the first alert of its kind and subject within the window, if any. */
export interface ClaimedAlert {
  alert: AlertRecord;
  firstId: string | null;
}

/**
 * Claim alerts not yet routed, oldest first, each with the earliest unresolved alert of its kind and subject raised
 * within `dedupSeconds` before it (already routed). Takes a transaction-scoped advisory lock first so one router at
 * a time decides what is a duplicate; returns [] when another holds it.
 */
export async function claimUnroutedAlerts(
  client: Queryable,
  dedupSeconds: number,
  limit: number,
): Promise<ClaimedAlert[]> {
  const { rows: lock } = await client.query<{ ok: boolean }>(
    `SELECT pg_try_advisory_xact_lock(hashtext('${ALERTS_CHANNEL}')) AS ok`,
  );
  if (!lock[0]?.ok) return [];
  const { rows } = await client.query<AlertRecord>(
    `SELECT ${COLUMNS} FROM alerts WHERE routed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE`,
    [limit],
  );
  const claimed: ClaimedAlert[] = [];
  for (const row of rows) {
    const { rows: first } = await client.query<{ id: string }>(
      `SELECT id FROM alerts
        WHERE kind = $1 AND subject = $2 AND duplicate_of IS NULL AND routed_at IS NOT NULL AND id <> $3
          AND status <> 'resolved' AND at > $4::timestamptz - make_interval(secs => $5::int)
        ORDER BY at LIMIT 1`,
      [row.kind, row.subject, row.id, row.at, dedupSeconds],
    );
    claimed.push({ alert: row, firstId: first[0]?.id ?? null });
  }
  return claimed;
}

/** Fold a repeat into the first alert of its kind and subject: counted there, never sent. */
export async function foldAlert(client: Queryable, id: string, firstId: string): Promise<void> {
  await client.query(
    `WITH dup AS (UPDATE alerts SET duplicate_of = $2, routed_at = now() WHERE id = $1 RETURNING at)
     UPDATE alerts SET occurrences = occurrences + 1, last_at = GREATEST(last_at, (SELECT at FROM dup)) WHERE id = $2`,
    [id, firstId],
  );
}

/**
 * Route an alert: one outbox notification per channel (in the caller's transaction, deduplicated per alert and
 * channel), and the alert marked routed with the channels it went to.
 */
export async function routeAlert(
  client: pg.ClientBase,
  alert: AlertRecord,
  channels: readonly string[],
): Promise<void> {
  for (const channel of channels) {
    await enqueueNotification(client, {
      channel,
      event: `alert.${alert.kind}`,
      subject: `[${alert.severity}] ${alert.summary}`,
      payload: {
        alertId: alert.id,
        kind: alert.kind,
        alertSeverity: alert.severity,
        alertSubject: alert.subject,
        at: alert.at.toISOString(),
        ...alert.detail,
        // PagerDuty reads `severity`; last, so a detail field cannot change it.
        severity: pagerDutySeverity(alert.severity),
      },
      dedupeKey: `alert:${alert.id}`,
    });
  }
  await client.query('UPDATE alerts SET routed_at = now(), channels = $2 WHERE id = $1', [alert.id, channels]);
}

function pagerDutySeverity(severity: AlertSeverity): string {
  return severity === 'critical'
    ? 'critical'
    : severity === 'high'
      ? 'error'
      : severity === 'medium'
        ? 'warning'
        : 'info';
}

/**
 * The medium alerts waiting for a digest, when the oldest of them is at least `intervalSeconds` old (else none),
 * locked so one digest carries each.
 */
export async function claimDigest(client: Queryable, intervalSeconds: number, now: Date): Promise<AlertRecord[]> {
  const { rows } = await client.query<AlertRecord>(
    `SELECT ${COLUMNS} FROM alerts
      WHERE severity = 'medium' AND digested_at IS NULL AND duplicate_of IS NULL AND routed_at IS NOT NULL
        AND EXISTS (SELECT 1 FROM alerts o WHERE o.severity = 'medium' AND o.digested_at IS NULL AND o.duplicate_of IS NULL
                     AND o.routed_at IS NOT NULL AND o.at <= $1::timestamptz - make_interval(secs => $2::int))
      ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED`,
    [now, intervalSeconds],
  );
  return rows;
}

export async function markDigested(client: Queryable, ids: readonly string[]): Promise<void> {
  await client.query('UPDATE alerts SET digested_at = now() WHERE id = ANY($1::bigint[])', [ids]);
}

export interface AlertFilter {
  status?: AlertStatus;
  severity?: AlertSeverity;
  kind?: string;
  subject?: string;
  since?: Date;
  until?: Date;
  /** Keyset: alerts with a smaller id. */
  before?: string;
  limit: number;
}

/** Alerts, newest first (repeats folded into their first are not listed; see `occurrences`). */
export async function listAlerts(db: Queryable, filter: AlertFilter): Promise<AlertRecord[]> {
  const c = new SqlConditions('duplicate_of IS NULL');
  if (filter.status) c.add('status = ?', filter.status);
  if (filter.severity) c.add('severity = ?', filter.severity);
  if (filter.kind) c.add('kind = ?', filter.kind);
  if (filter.subject) c.add('subject = ?', filter.subject);
  if (filter.since) c.add('at >= ?', filter.since);
  if (filter.until) c.add('at < ?', filter.until);
  if (filter.before) c.add('id < ?::bigint', filter.before);
  const { rows } = await db.query<AlertRecord>(
    `SELECT ${COLUMNS} FROM alerts ${c.where()} ORDER BY id DESC LIMIT ${c.param(filter.limit)}`,
    c.params,
  );
  return rows;
}

export async function findAlert(db: Queryable, id: string): Promise<AlertRecord | null> {
  const { rows } = await db.query<AlertRecord>(`SELECT ${COLUMNS} FROM alerts WHERE id = $1 AND duplicate_of IS NULL`, [
    id,
  ]);
  return rows[0] ?? null;
}

/**
 * Acknowledge (open → acknowledged) or resolve (open or acknowledged → resolved) an alert, audited in the same
 * statement's transaction. Returns the alert as it is now, or null when it does not exist or is already past `to`.
 */
export async function setAlertStatus(
  client: Queryable,
  id: string,
  to: AckResolveTarget,
  actor: Actor,
  note: string | null,
): Promise<AlertRecord | null> {
  const { rows } = await client.query<AlertRecord>(
    ackResolveUpdate('alerts', COLUMNS, 'duplicate_of IS NULL'),
    ackResolveParams(id, to, actor),
  );
  if (!rows[0]) return null;
  await appendAudit(client, {
    actor,
    action: to === 'acknowledged' ? 'alert.acknowledged' : 'alert.resolved',
    subject: `alert:${id}`,
    data: { kind: rows[0].kind, alertSubject: rows[0].subject, note },
  });
  return rows[0];
}

/** Agents or destination addresses with at least `threshold` failed intents in the last `windowSeconds`. */
export async function findFailureBursts(
  db: Queryable,
  windowSeconds: number,
  threshold: number,
): Promise<{ scope: 'agent' | 'address'; key: string; failures: number; intentIds: string[] }[]> {
  const { rows } = await db.query<{ scope: 'agent' | 'address'; key: string; failures: number; ids: string[] }>(
    `WITH recent AS (
       SELECT id, agent_id, chain_id, to_address FROM intents
        WHERE status = 'failed' AND updated_at > now() - make_interval(secs => $1::int)
     )
     SELECT 'agent' AS scope, agent_id::text AS key, count(*)::int AS failures, array_agg(id::text) AS ids
       FROM recent GROUP BY agent_id HAVING count(*) >= $2
     UNION ALL
     SELECT 'address', chain_id || ':' || lower(to_address), count(*)::int, array_agg(id::text)
       FROM recent GROUP BY chain_id, lower(to_address) HAVING count(*) >= $2`,
    [windowSeconds, threshold],
  );
  return rows.map((r) => ({ scope: r.scope, key: r.key, failures: r.failures, intentIds: r.ids.slice(0, 20) }));
}

/** Agents whose spend (reserved, committed or settled) in the last hour exceeds `thresholdUsdMicros`. */
export async function findRapidSpenders(
  db: Queryable,
  thresholdUsdMicros: bigint,
): Promise<{ agentId: string; spendUsdMicros: bigint }[]> {
  const { rows } = await db.query<{ agent_id: string; spend: string }>(
    `SELECT agent_id, sum(spend_usd_micros)::text AS spend FROM intents
      WHERE created_at > now() - interval '1 hour' AND spend_state IN ('reserved', 'committed', 'settled')
      GROUP BY agent_id HAVING sum(spend_usd_micros) > $1::bigint`,
    [thresholdUsdMicros.toString()],
  );
  return rows.map((r) => ({ agentId: r.agent_id, spendUsdMicros: BigInt(r.spend) }));
}

/**
 * Per chain, the newest intent of the last `windowSeconds` whose max fee per gas is above `factor` × the median of
 * the (at most 50) intents before it on that chain — when at least `minSamples` came before.
 */
export async function findGasSpikes(
  db: Queryable,
  windowSeconds: number,
  factor: number,
  minSamples: number,
): Promise<{ chainId: number; intentId: string; maxFeePerGas: bigint; medianFeePerGas: bigint }[]> {
  const { rows } = await db.query<{ chain_id: string; id: string; fee: string; median: string }>(
    `WITH latest AS (
       SELECT DISTINCT ON (chain_id) id, chain_id, max_fee_per_gas, created_at FROM intents
        WHERE max_fee_per_gas IS NOT NULL AND created_at > now() - make_interval(secs => $1::int)
        ORDER BY chain_id, created_at DESC
     )
     SELECT l.chain_id, l.id, l.max_fee_per_gas::text AS fee, floor(m.median)::text AS median
       FROM latest l
       CROSS JOIN LATERAL (
         SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY p.max_fee_per_gas) AS median, count(*) AS n
           FROM (SELECT max_fee_per_gas FROM intents
                  WHERE chain_id = l.chain_id AND max_fee_per_gas IS NOT NULL AND created_at < l.created_at
                  ORDER BY created_at DESC LIMIT 50) p
       ) m
      WHERE m.n >= $3 AND l.max_fee_per_gas > m.median * $2::numeric`,
    [windowSeconds, factor, minSamples],
  );
  return rows.map((r) => ({
    chainId: Number(r.chain_id),
    intentId: r.id,
    maxFeePerGas: BigInt(r.fee),
    medianFeePerGas: BigInt(r.median),
  }));
}

/**
 * Payments of the last hour (signed, submitted or confirmed) to a recipient never paid before on that chain, that no
 * `new_recipient` alert has named yet: the first per recipient.
 */
export async function findFirstPayments(
  db: Queryable,
): Promise<{ intentId: string; agentId: string; chainId: number; recipient: string; asset: string; amount: string }[]> {
  const { rows } = await db.query<{
    id: string;
    agent_id: string;
    chain_id: string;
    recipient: string;
    asset: string;
    amount: string;
  }>(
    `SELECT DISTINCT ON (i.chain_id, lower(i.recipient)) i.id, i.agent_id, i.chain_id, lower(i.recipient) AS recipient,
            i.asset, i.amount::text AS amount
       FROM intents i
      WHERE i.status IN ('signed', 'submitted', 'confirmed') AND i.type = 'transfer'
        AND i.created_at > now() - interval '1 hour'
        AND NOT EXISTS (SELECT 1 FROM intents p
                         WHERE p.chain_id = i.chain_id AND p.recipient = i.recipient AND p.created_at < i.created_at
                           AND p.status IN ('signed', 'submitted', 'confirmed'))
        AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.kind = 'new_recipient'
                         AND a.subject = 'recipient:' || i.chain_id || ':' || lower(i.recipient))
      ORDER BY i.chain_id, lower(i.recipient), i.created_at`,
  );
  return rows.map((r) => ({
    intentId: r.id,
    agentId: r.agent_id,
    chainId: Number(r.chain_id),
    recipient: r.recipient,
    asset: r.asset,
    amount: r.amount,
  }));
}

/** Pending approvals that expire within `withinSeconds` and that no `approval_expiring` alert has named yet. */
export async function findExpiringApprovals(
  db: Queryable,
  withinSeconds: number,
): Promise<{ approvalId: string; intentId: string; expiresAt: Date }[]> {
  const { rows } = await db.query<{ id: string; intent_id: string; expires_at: Date }>(
    `SELECT ap.id, ap.intent_id, ap.expires_at FROM approvals ap
      WHERE ap.status = 'pending' AND ap.expires_at > now()
        AND ap.expires_at <= now() + make_interval(secs => $1::int)
        AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.kind = 'approval_expiring' AND a.subject = 'approval:' || ap.id)
      ORDER BY ap.expires_at LIMIT 100`,
    [withinSeconds],
  );
  return rows.map((r) => ({ approvalId: r.id, intentId: r.intent_id, expiresAt: r.expires_at }));
}

/** Whether an alert of this kind and subject was raised within the last `seconds` (and not resolved since). */
export async function hasRecentAlert(db: Queryable, kind: string, subject: string, seconds: number): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM alerts WHERE kind = $1 AND subject = $2 AND status <> 'resolved'
                      AND at > now() - make_interval(secs => $3::int)) AS found`,
    [kind, subject, seconds],
  );
  return rows[0]?.found ?? false;
}
