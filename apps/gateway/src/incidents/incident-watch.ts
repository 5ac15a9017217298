import type pg from 'pg';
import { logEvent } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { PauseScope } from '../domain/halts.ts';
import {
  BYPASS_REASON_CODES,
  BYPASS_REFUSAL_CODES,
  INCIDENT_RULES,
  type Detection,
  type IncidentRecord,
  type IncidentResponse,
  type IncidentRule,
} from '../domain/incident.ts';
import type { Logger } from '../domain/logger.ts';
import { formatUsd } from '../domain/usd.ts';
import { raiseAlert } from '../repositories/alerts-repository.ts';
import { appendAudit, type Actor } from '../repositories/audit-repository.ts';
import { blockNetwork } from '../repositories/auth-failures-repository.ts';
import { insertPause } from '../repositories/halts-repository.ts';
import { readScopes, updateScopeLimits } from '../repositories/spend-repository.ts';
import {
  appendIncidentEvent,
  findBypassAttempts,
  findCostSpikes,
  findErrorRates,
  findNewNetworkBursts,
  incidentActor,
  incidentReason,
  linkIncidentAlerts,
  openIncident,
} from '../repositories/incidents-repository.ts';

export interface IncidentWatchSettings {
  /** The automatic responses per rule. */
  responses: Record<IncidentRule, readonly IncidentResponse[]>;
  /** How long a `block_network` response blocks the network. */
  blockSeconds: number;
  /** Intents of a key within `burstWindowSeconds` of its first exchange from a new network or user agent. */
  burstIntents: number;
  burstWindowSeconds: number;
  /** Last hour's spend above this multiple of the 7-day hourly average, and at least `costMinUsdMicros`. */
  costFactor: number;
  costMinUsdMicros: bigint;
  /** More than this percentage of an agent's intents over `errorWindowSeconds` rejected or failed (of at least `errorMinIntents`). */
  errorRatePercent: number;
  errorWindowSeconds: number;
  errorMinIntents: number;
  /** Policy-bypass attempts of one key within `bypassWindowSeconds`. */
  bypassThreshold: number;
  bypassWindowSeconds: number;
}

const WATCH: Actor = 'system:incident-watch';

/**
 * The incident watch (docs/incidents.md): the detection rules of the playbook, each pass. A finding opens an incident
 * (one unresolved per rule and subject, across replicas), raises an `incident_opened` alert of the rule's severity,
 * and takes the rule's configured automatic response, audited — all in one transaction, all on the timeline. Alerts
 * about an open incident's key or agent are grouped under it. The `incident-watch` worker's tick; tests call `tick()`.
 */
export class IncidentWatch {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      settings: IncidentWatchSettings;
      log: Logger;
      /** Re-read the kill switch and pauses in this process after a response paused something. */
      haltsChanged: () => Promise<void>;
    },
  ) {}

  /** One pass; returns the incidents it opened. */
  async tick(): Promise<IncidentRecord[]> {
    const opened: IncidentRecord[] = [];
    for (const detection of await this.detect()) {
      const incident = await this.open(detection);
      if (incident) opened.push(incident);
    }
    await linkIncidentAlerts(this.deps.pool);
    if (opened.length > 0) await this.deps.haltsChanged();
    return opened;
  }

  /** Every rule's findings now. */
  async detect(): Promise<Detection[]> {
    const { pool, settings: s } = this.deps;
    const found: Detection[] = [];
    for (const b of await findNewNetworkBursts(pool, s.burstWindowSeconds, s.burstIntents)) {
      found.push({
        rule: 'new_network_burst',
        subject: `api_key:${b.apiKeyId}`,
        agentId: b.agentId,
        apiKeyId: b.apiKeyId,
        network: b.network,
        summary: `API key ${b.apiKeyId} used from a new network or user agent (${b.network}) and sent ${b.intents} intents within ${s.burstWindowSeconds} s`,
        detail: {
          network: b.network,
          userAgent: b.userAgent,
          firstSeen: b.firstSeen.toISOString(),
          intents: b.intents,
          threshold: s.burstIntents,
        },
      });
    }
    for (const c of await findCostSpikes(pool, s.costFactor, s.costMinUsdMicros)) {
      found.push({
        rule: 'cost_spike',
        subject: `agent:${c.agentId}`,
        agentId: c.agentId,
        apiKeyId: null,
        summary: `Agent ${c.agentId} spent ${formatUsd(c.lastHourUsdMicros)} USD in the last hour, above ${s.costFactor}× its 7-day hourly average (${formatUsd(c.hourlyAverageUsdMicros)} USD)`,
        detail: {
          lastHourUsd: formatUsd(c.lastHourUsdMicros),
          hourlyAverageUsd: formatUsd(c.hourlyAverageUsdMicros),
          factor: s.costFactor,
        },
      });
    }
    for (const e of await findErrorRates(pool, s.errorWindowSeconds, s.errorRatePercent, s.errorMinIntents)) {
      found.push({
        rule: 'error_rate',
        subject: `agent:${e.agentId}`,
        agentId: e.agentId,
        apiKeyId: null,
        summary: `${e.errors} of agent ${e.agentId}'s ${e.intents} intents in the last ${s.errorWindowSeconds / 60} minutes were rejected or failed (above ${s.errorRatePercent} %)`,
        detail: { intents: e.intents, errors: e.errors, thresholdPercent: s.errorRatePercent },
      });
    }
    for (const a of await findBypassAttempts(
      pool,
      s.bypassWindowSeconds,
      s.bypassThreshold,
      BYPASS_REASON_CODES,
      BYPASS_REFUSAL_CODES,
    )) {
      found.push({
        rule: 'policy_bypass',
        subject: `api_key:${a.apiKeyId}`,
        agentId: a.agentId,
        apiKeyId: a.apiKeyId,
        summary: `API key ${a.apiKeyId} made ${a.attempts} attempts to get around the policy in ${s.bypassWindowSeconds / 60} minutes`,
        detail: {
          attempts: a.attempts,
          codes: a.codes,
          intentIds: a.intentIds,
          auditSeqs: a.auditSeqs,
          threshold: s.bypassThreshold,
        },
      });
    }
    return found;
  }

  /** Open the incident, raise its alert and take its response in one transaction; null when it is already open. */
  private async open(detection: Detection): Promise<IncidentRecord | null> {
    const { pool, settings, log } = this.deps;
    const severity = INCIDENT_RULES[detection.rule];
    const responses = settings.responses[detection.rule];
    const incident = await withTransaction(pool, async (client) => {
      const opened = await openIncident(client, detection, severity, 3600);
      if (!opened) return null;
      await appendIncidentEvent(client, opened.id, {
        kind: 'detected',
        actor: WATCH,
        summary: detection.summary,
        detail: detection.detail,
      });
      const alertId = await raiseAlert(client, {
        kind: 'incident_opened',
        severity,
        subject: `incident:${opened.id}`,
        summary: `Incident ${opened.id} (${detection.rule}): ${detection.summary}`.slice(0, 500),
        detail: { incidentId: opened.id, rule: detection.rule, incidentSubject: detection.subject, responses },
      });
      await appendIncidentEvent(client, opened.id, {
        kind: 'alert',
        actor: WATCH,
        summary: `Alert incident_opened (${severity}) raised`,
        detail: { kind: 'incident_opened', severity },
        alertId,
      });
      await this.respond(client, opened, detection, responses);
      return opened;
    });
    if (incident) logEvent(log, 'system.incident_opened', { incidentId: incident.id, rule: detection.rule, responses });
    return incident;
  }

  /** Take the configured responses (audited, on the timeline, reversible). */
  private async respond(
    client: pg.PoolClient,
    incident: IncidentRecord,
    detection: Detection,
    responses: readonly IncidentResponse[],
  ): Promise<void> {
    for (const response of responses) {
      const outcome = await this.take(client, incident, detection, response);
      await appendIncidentEvent(client, incident.id, {
        kind: outcome ? 'response' : 'response_failed',
        actor: WATCH,
        summary: outcome
          ? `${outcome.taken ? RESPONSE_DONE[response] : RESPONSE_ALREADY[response]} ${outcome.target}`
          : `${response} not taken: the incident names no ${response === 'block_network' ? 'network' : 'API key'}`,
        detail: { response, ...outcome },
      });
    }
  }

  /** One response; null when the detection names nothing it could apply to. */
  private async take(
    client: pg.PoolClient,
    incident: IncidentRecord,
    detection: Detection,
    response: IncidentResponse,
  ): Promise<{ target: string; taken: boolean; previousSoftMicros?: string | null } | null> {
    const reason = `incident ${incident.id}: ${detection.rule}`;
    const audit = { incidentId: incident.id, response, reason };
    switch (response) {
      case 'pause_key':
      case 'pause_agent': {
        const scope: PauseScope | null =
          response === 'pause_agent'
            ? `agent:${detection.agentId}`
            : detection.apiKeyId
              ? `key:${detection.apiKeyId}`
              : null;
        if (!scope) return null;
        const taken = await insertPause(client, scope, incidentActor(incident.id), reason, {
          actor: WATCH,
          action: 'pause.set',
          subject: scope,
          data: audit,
        });
        return { target: scope, taken };
      }
      case 'block_network': {
        const network = detection.network;
        if (!network) return null;
        const taken = await blockNetwork(client, network, incidentReason(incident.id), this.deps.settings.blockSeconds);
        if (taken)
          await appendAudit(client, { actor: WATCH, action: 'ip_block.set', subject: `ip:${network}`, data: audit });
        return { target: network, taken };
      }
      case 'breaker_soft': {
        const scope = `agent:${detection.agentId}`;
        const previous = (await readScopes(client, [scope])).get(scope)?.breaker.soft ?? null;
        if (previous === 0n) return { target: scope, taken: false };
        await updateScopeLimits(client, scope, { breaker: { soft: 0n } }, WATCH);
        return { target: scope, taken: true, previousSoftMicros: previous === null ? null : previous.toString() };
      }
    }
  }
}

const RESPONSE_DONE: Record<IncidentResponse, string> = {
  pause_key: 'Paused',
  pause_agent: 'Paused',
  block_network: 'Blocked the network',
  breaker_soft: 'Set the breaker to soft for',
};
const RESPONSE_ALREADY: Record<IncidentResponse, string> = {
  pause_key: 'Already paused:',
  pause_agent: 'Already paused:',
  block_network: 'Already blocked:',
  breaker_soft: 'Breaker already soft for',
};
