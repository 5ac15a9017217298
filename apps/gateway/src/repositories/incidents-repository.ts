import type pg from 'pg';
import type { AlertSeverity } from '../domain/alert.ts';
import type {
  Detection,
  IncidentEvent,
  IncidentEventKind,
  IncidentRecord,
  IncidentRule,
  IncidentStatus,
  ResponseInForce,
} from '../domain/incident.ts';
import { ackResolveParams, ackResolveUpdate, type AckResolveTarget } from './ack-resolve.ts';
import { appendAudit, type Actor } from './audit-repository.ts';
import { SqlConditions } from '../db/sql-conditions.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

const COLUMNS = `id, rule, severity, subject, summary, detail, status, opened_at AS "openedAt",
  acknowledged_at AS "acknowledgedAt", acknowledged_by AS "acknowledgedBy", resolved_at AS "resolvedAt",
  resolved_by AS "resolvedBy"`;
const EVENT_COLUMNS = 'id, at, kind, actor, summary, detail, alert_id AS "alertId"';

/** Record that an API key was exchanged from this network and user agent (first and last time, how often). */
export async function recordKeySighting(
  db: Queryable,
  apiKeyId: string,
  network: string,
  userAgent: string,
): Promise<void> {
  await db.query(
    `INSERT INTO api_key_sightings (api_key_id, network, user_agent) VALUES ($1, $2, $3)
     ON CONFLICT (api_key_id, network, user_agent)
       DO UPDATE SET last_seen = now(), exchanges = api_key_sightings.exchanges + 1`,
    [apiKeyId, network, userAgent],
  );
}

/**
 * API keys first exchanged from a network or user agent within the last hour that they never used before (the key
 * has an older sighting), followed within `windowSeconds` by at least `burst` intents of the key.
 */
export async function findNewNetworkBursts(
  db: Queryable,
  windowSeconds: number,
  burst: number,
): Promise<
  { apiKeyId: string; agentId: string; network: string; userAgent: string; firstSeen: Date; intents: number }[]
> {
  const { rows } = await db.query<{
    api_key_id: string;
    agent_id: string;
    network: string;
    user_agent: string;
    first_seen: Date;
    intents: number;
  }>(
    `SELECT s.api_key_id, k.agent_id, s.network, s.user_agent, s.first_seen, b.intents
       FROM api_key_sightings s
       JOIN api_keys k ON k.id = s.api_key_id
       CROSS JOIN LATERAL (SELECT count(*)::int AS intents FROM intents i
                            WHERE i.api_key_id = s.api_key_id AND i.created_at >= s.first_seen
                              AND i.created_at < s.first_seen + make_interval(secs => $1::int)) b
      WHERE s.first_seen > now() - interval '1 hour' - make_interval(secs => $1::int)
        AND EXISTS (SELECT 1 FROM api_key_sightings o
                     WHERE o.api_key_id = s.api_key_id AND o.first_seen < s.first_seen)
        AND b.intents >= $2
      ORDER BY s.first_seen`,
    [windowSeconds, burst],
  );
  return rows.map((r) => ({
    apiKeyId: r.api_key_id,
    agentId: r.agent_id,
    network: r.network,
    userAgent: r.user_agent,
    firstSeen: r.first_seen,
    intents: r.intents,
  }));
}

/**
 * Agents whose spend (reserved, committed or settled) in the last hour is above `factor` × their hourly average over
 * the 7 days before it, and at least `minUsdMicros`. An agent that spent nothing in those 7 days has no average to
 * spike above (a new agent): the cost breakers bound it instead (docs/money.md).
 */
export async function findCostSpikes(
  db: Queryable,
  factor: number,
  minUsdMicros: bigint,
): Promise<{ agentId: string; lastHourUsdMicros: bigint; hourlyAverageUsdMicros: bigint }[]> {
  const { rows } = await db.query<{ agent_id: string; last_hour: string; average: string }>(
    `WITH spend AS (
       SELECT agent_id,
              coalesce(sum(spend_usd_micros) FILTER (WHERE created_at > now() - interval '1 hour'), 0) AS last_hour,
              coalesce(sum(spend_usd_micros) FILTER (WHERE created_at <= now() - interval '1 hour'), 0) / 168 AS average
         FROM intents
        WHERE created_at > now() - interval '7 days' - interval '1 hour'
          AND spend_state IN ('reserved', 'committed', 'settled')
        GROUP BY agent_id
     )
     SELECT agent_id, last_hour::text AS last_hour, floor(average)::text AS average FROM spend
      WHERE average > 0 AND last_hour >= $2::numeric AND last_hour > average * $1::numeric`,
    [factor, minUsdMicros.toString()],
  );
  return rows.map((r) => ({
    agentId: r.agent_id,
    lastHourUsdMicros: BigInt(r.last_hour),
    hourlyAverageUsdMicros: BigInt(r.average),
  }));
}

/**
 * Agents with at least `minIntents` intents created in the last `windowSeconds` of which more than `percent` % ended
 * `rejected` or `failed`.
 */
export async function findErrorRates(
  db: Queryable,
  windowSeconds: number,
  percent: number,
  minIntents: number,
): Promise<{ agentId: string; intents: number; errors: number }[]> {
  const { rows } = await db.query<{ agent_id: string; intents: number; errors: number }>(
    `SELECT agent_id, count(*)::int AS intents, count(*) FILTER (WHERE status IN ('rejected', 'failed'))::int AS errors
       FROM intents WHERE created_at > now() - make_interval(secs => $1::int)
      GROUP BY agent_id
     HAVING count(*) >= $3 AND count(*) FILTER (WHERE status IN ('rejected', 'failed')) * 100 > count(*) * $2::numeric`,
    [windowSeconds, percent, minIntents],
  );
  return rows.map((r) => ({ agentId: r.agent_id, intents: r.intents, errors: r.errors }));
}

/**
 * API keys with at least `threshold` attempts in the last `windowSeconds` to get around the policy: rejected intents
 * with a decision reason among `codes`, or refused contract calls; and refusals audited as `intent.refused` with a
 * code among `refusals` (JSON-RPC methods refused as bypasses, signing for another chain than the endpoint's).
 */
export async function findBypassAttempts(
  db: Queryable,
  windowSeconds: number,
  threshold: number,
  codes: readonly string[],
  refusals: readonly string[],
): Promise<
  { apiKeyId: string; agentId: string; attempts: number; codes: string[]; intentIds: string[]; auditSeqs: string[] }[]
> {
  const { rows } = await db.query<{
    api_key_id: string;
    agent_id: string;
    attempts: number;
    codes: string[] | null;
    refs: string[];
  }>(
    `WITH attempts AS (
       SELECT i.api_key_id, i.agent_id, i.created_at AS at, r.codes, 'intent:' || i.id AS ref
         FROM intents i
         CROSS JOIN LATERAL (SELECT coalesce(array_agg(x->>'code'), '{}') AS codes
                               FROM jsonb_array_elements(coalesce(i.decision->'reasons', '[]'::jsonb)) x
                              WHERE x->>'code' = ANY($3::text[])) r
        WHERE i.status = 'rejected' AND i.api_key_id IS NOT NULL
          AND i.created_at > now() - make_interval(secs => $1::int)
          AND (cardinality(r.codes) > 0 OR i.type = 'contract_call')
       UNION ALL
       SELECT (d.data->>'apiKeyId')::uuid, substr(a.actor, 7)::uuid, a.at,
              ARRAY[concat_ws(':', d.data->>'code', d.data->>'method')], 'audit:' || a.seq
         FROM audit_log a CROSS JOIN LATERAL (SELECT a.record::jsonb->'data' AS data) d
        WHERE a.action = 'intent.refused' AND a.at > now() - make_interval(secs => $1::int)
          AND a.actor LIKE 'agent:%' AND d.data->>'apiKeyId' IS NOT NULL AND d.data->>'code' = ANY($4::text[])
     )
     SELECT a.api_key_id, min(a.agent_id::text) AS agent_id, count(*)::int AS attempts,
            (SELECT array_agg(DISTINCT c) FROM attempts o, unnest(o.codes) c WHERE o.api_key_id = a.api_key_id) AS codes,
            array_agg(a.ref ORDER BY a.at) AS refs
       FROM attempts a GROUP BY a.api_key_id HAVING count(*) >= $2`,
    [windowSeconds, threshold, codes, refusals],
  );
  const refsOf = (refs: string[], kind: string) =>
    refs
      .filter((r) => r.startsWith(`${kind}:`))
      .map((r) => r.slice(kind.length + 1))
      .slice(0, 20);
  return rows.map((r) => ({
    apiKeyId: r.api_key_id,
    agentId: r.agent_id,
    attempts: r.attempts,
    codes: r.codes ?? [],
    intentIds: refsOf(r.refs, 'intent'),
    auditSeqs: refsOf(r.refs, 'audit'),
  }));
}

/**
 * Open an incident for a detection, unless one of its rule and subject is unresolved, or was resolved within the last
 * `cooldownSeconds` (the evidence that opened it is still in its window). Returns the new incident, or null.
 */
export async function openIncident(
  client: Queryable,
  detection: Detection,
  severity: AlertSeverity,
  cooldownSeconds: number,
): Promise<IncidentRecord | null> {
  const { rows } = await client.query<IncidentRecord>(
    `INSERT INTO incidents (rule, severity, subject, summary, detail)
     SELECT $1, $2, $3, $4, $5::jsonb
      WHERE NOT EXISTS (SELECT 1 FROM incidents WHERE rule = $1 AND subject = $3 AND status = 'resolved'
                          AND resolved_at > now() - make_interval(secs => $6::int))
     ON CONFLICT (rule, subject) WHERE status <> 'resolved' DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      detection.rule,
      severity,
      detection.subject,
      detection.summary.slice(0, 500),
      JSON.stringify({ ...detection.detail, agentId: detection.agentId, apiKeyId: detection.apiKeyId }),
      cooldownSeconds,
    ],
  );
  return rows[0] ?? null;
}

/** Append a timeline entry. */
export async function appendIncidentEvent(
  db: Queryable,
  incidentId: string,
  event: {
    kind: IncidentEventKind;
    actor: Actor;
    summary: string;
    detail?: Record<string, unknown>;
    alertId?: string | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO incident_events (incident_id, kind, actor, summary, detail, alert_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6)`,
    [incidentId, event.kind, event.actor, event.summary, JSON.stringify(event.detail ?? {}), event.alertId ?? null],
  );
}

/**
 * Group alerts under the unresolved incidents they concern: an alert about the incident itself, its API key or its
 * agent, raised from an hour before it opened on, becomes an `alert` entry of its timeline (once). Returns how many.
 */
export async function linkIncidentAlerts(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO incident_events (incident_id, at, kind, actor, summary, detail, alert_id)
     SELECT n.id, a.at, 'alert', 'system:incident-watch', a.summary,
            jsonb_build_object('kind', a.kind, 'severity', a.severity, 'subject', a.subject), a.id
       FROM incidents n
       JOIN alerts a ON a.duplicate_of IS NULL AND a.at >= n.opened_at - interval '1 hour'
                    AND a.subject IN ('incident:' || n.id, n.subject, 'api_key:' || (n.detail->>'apiKeyId'),
                                      'agent:' || (n.detail->>'agentId'))
      WHERE n.status <> 'resolved'
     ON CONFLICT (incident_id, alert_id) WHERE alert_id IS NOT NULL DO NOTHING`,
  );
  return rowCount ?? 0;
}

export interface IncidentFilter {
  status?: IncidentStatus;
  rule?: IncidentRule;
  subject?: string;
  /** Keyset: incidents with a smaller id. */
  before?: string;
  limit: number;
}

/** Incidents, newest first. */
export async function listIncidents(db: Queryable, filter: IncidentFilter): Promise<IncidentRecord[]> {
  const c = new SqlConditions();
  if (filter.status) c.add('status = ?', filter.status);
  if (filter.rule) c.add('rule = ?', filter.rule);
  if (filter.subject) c.add('subject = ?', filter.subject);
  if (filter.before) c.add('id < ?::bigint', filter.before);
  const { rows } = await db.query<IncidentRecord>(
    `SELECT ${COLUMNS} FROM incidents ${c.where()} ORDER BY id DESC LIMIT ${c.param(filter.limit)}`,
    c.params,
  );
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

export async function findIncident(db: Queryable, id: string): Promise<IncidentRecord | null> {
  const { rows } = await db.query<IncidentRecord>(`SELECT ${COLUMNS} FROM incidents WHERE id = $1`, [id]);
  return rows[0] ? { ...rows[0], id: String(rows[0].id) } : null;
}

/** The timeline, oldest first. */
export async function listIncidentEvents(db: Queryable, incidentId: string): Promise<IncidentEvent[]> {
  const { rows } = await db.query<IncidentEvent>(
    `SELECT ${EVENT_COLUMNS} FROM incident_events WHERE incident_id = $1 ORDER BY at, id LIMIT 1000`,
    [incidentId],
  );
  return rows.map((r) => ({ ...r, id: String(r.id), alertId: r.alertId === null ? null : String(r.alertId) }));
}

/**
 * Acknowledge (open → acknowledged) or resolve (open or acknowledged → resolved) an incident, with its timeline entry
 * and audit record in the caller's transaction. Null when it is already past `to`.
 */
export async function setIncidentStatus(
  client: Queryable,
  id: string,
  to: AckResolveTarget,
  actor: Actor,
  note: string | null,
): Promise<IncidentRecord | null> {
  const { rows } = await client.query<IncidentRecord>(
    ackResolveUpdate('incidents', COLUMNS),
    ackResolveParams(id, to, actor),
  );
  const incident = rows[0];
  if (!incident) return null;
  await appendIncidentEvent(client, id, {
    kind: to,
    actor,
    summary: to === 'acknowledged' ? 'Acknowledged' : 'Resolved',
    detail: { note },
  });
  await appendAudit(client, {
    actor,
    action: to === 'acknowledged' ? 'incident.acknowledged' : 'incident.resolved',
    subject: `incident:${id}`,
    data: { rule: incident.rule, incidentSubject: incident.subject, note },
  });
  return { ...incident, id: String(incident.id) };
}

/** Add an operator's note to the timeline (audited). */
export async function addIncidentNote(client: Queryable, id: string, actor: Actor, note: string): Promise<void> {
  await appendIncidentEvent(client, id, { kind: 'note', actor, summary: note });
  await appendAudit(client, { actor, action: 'incident.noted', subject: `incident:${id}`, data: { note } });
}

/**
 * What an incident's automatic responses set that is still in force: its pauses (`pauses.paused_by` is the incident),
 * its network blocks (`ip_blocks.reason` is `incident:<id>`), and breakers it set to soft whose soft threshold is still
 * 0 (with the threshold it replaced, in micro-USD, or null for the default).
 */
export async function incidentResponsesInForce(
  db: Queryable,
  id: string,
): Promise<(ResponseInForce & { previousSoftMicros: string | null })[]> {
  const { rows } = await db.query<ResponseInForce & { previousSoftMicros: string | null }>(
    `SELECT CASE WHEN scope LIKE 'key:%' THEN 'pause_key' ELSE 'pause_agent' END AS response, scope AS target,
            NULL AS "previousSoftMicros"
       FROM pauses WHERE paused_by = $2
     UNION ALL
     SELECT 'block_network', ip, NULL FROM ip_blocks WHERE reason = $3 AND until > now()
     UNION ALL
     SELECT 'breaker_soft', e.detail->>'target', e.detail->>'previousSoftMicros'
       FROM incident_events e JOIN spend_scopes s ON s.scope = e.detail->>'target'
      WHERE e.incident_id = $1 AND e.kind = 'response' AND e.detail->>'response' = 'breaker_soft'
        AND e.detail->>'taken' = 'true' AND s.breaker_soft_micros = 0
     ORDER BY 1, 2`,
    [id, incidentActor(id), incidentReason(id)],
  );
  return rows;
}

/** The reason an incident's network block carries (`ip_blocks.reason`). */
export function incidentReason(id: string): string {
  return `incident:${id}`;
}

/** Who an incident's automatic responses are recorded as (`pauses.paused_by`), so a revert lifts only its own. */
export function incidentActor(id: string): Actor {
  return `system:incident:${id}`;
}
