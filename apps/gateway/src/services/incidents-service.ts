import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { PauseScope } from '../domain/halts.ts';
import type { IncidentEvent, IncidentRecord, ResponseInForce } from '../domain/incident.ts';
import { appendAudit, type Actor } from '../repositories/audit-repository.ts';
import { liftIpBlock } from '../repositories/auth-failures-repository.ts';
import { deletePause } from '../repositories/halts-repository.ts';
import { updateScopeLimits } from '../repositories/spend-repository.ts';
import {
  addIncidentNote,
  appendIncidentEvent,
  findIncident,
  incidentReason,
  incidentResponsesInForce,
  listIncidentEvents,
  listIncidents,
  setIncidentStatus,
  type IncidentFilter,
} from '../repositories/incidents-repository.ts';

export type { IncidentEvent, IncidentRecord } from '../domain/incident.ts';
export type { IncidentFilter } from '../repositories/incidents-repository.ts';

/** One incident with its timeline and what its automatic responses hold in force now. */
export interface IncidentDetail {
  incident: IncidentRecord;
  timeline: IncidentEvent[];
  responsesInForce: ResponseInForce[];
}

/**
 * Incidents for operators (docs/incidents.md): list, read with the timeline, acknowledge, note and resolve — each
 * audited with the acting user; resolving with `revert` lifts the pauses the incident's responses set.
 */
export class IncidentsService {
  constructor(private readonly deps: { pool: pg.Pool; haltsChanged: () => Promise<void> }) {}

  list(filter: IncidentFilter): Promise<IncidentRecord[]> {
    return listIncidents(this.deps.pool, filter);
  }

  async get(id: string): Promise<IncidentDetail> {
    const incident = await this.find(id);
    const [timeline, inForce] = await Promise.all([
      listIncidentEvents(this.deps.pool, incident.id),
      incidentResponsesInForce(this.deps.pool, incident.id),
    ]);
    return { incident, timeline, responsesInForce: inForce.map(({ response, target }) => ({ response, target })) };
  }

  /** Acknowledge: someone is on it. One already acknowledged or resolved answers `409 incident_state_conflict`. */
  async acknowledge(id: string, actor: Actor, note: string | null): Promise<IncidentDetail> {
    const incident = await this.find(id);
    const moved = await withTransaction(this.deps.pool, (client) =>
      setIncidentStatus(client, incident.id, 'acknowledged', actor, note),
    );
    if (!moved) throw this.conflict((await this.find(id)).status);
    return this.get(id);
  }

  async note(id: string, actor: Actor, note: string): Promise<IncidentDetail> {
    const incident = await this.find(id);
    await withTransaction(this.deps.pool, (client) => addIncidentNote(client, incident.id, actor, note));
    return this.get(id);
  }

  /**
   * Resolve; with `revert`, also undo what the incident's automatic responses set that is still in force: lift its
   * pauses and network blocks, put the breaker thresholds it set to soft back — each audited with the acting user and
   * on the timeline. One already resolved answers `409 incident_state_conflict` (and nothing is undone).
   */
  async resolve(id: string, actor: Actor, note: string | null, revert: boolean): Promise<IncidentDetail> {
    const incident = await this.find(id);
    const reverted = await withTransaction(this.deps.pool, async (client) => {
      const moved = await setIncidentStatus(client, incident.id, 'resolved', actor, note);
      if (!moved) return null;
      const inForce = revert ? await incidentResponsesInForce(client, incident.id) : [];
      for (const item of inForce) {
        await this.undo(client, incident.id, item, actor);
        await appendIncidentEvent(client, incident.id, {
          kind: 'reverted',
          actor,
          summary: `Reverted ${item.response} on ${item.target}`,
          detail: { response: item.response, target: item.target },
        });
      }
      return inForce;
    });
    if (!reverted) throw this.conflict((await this.find(id)).status);
    if (reverted.length > 0) await this.deps.haltsChanged();
    return this.get(id);
  }

  private async undo(
    client: pg.PoolClient,
    incidentId: string,
    item: ResponseInForce & { previousSoftMicros: string | null },
    actor: Actor,
  ): Promise<void> {
    const data = { incidentId };
    switch (item.response) {
      case 'pause_key':
      case 'pause_agent':
        await deletePause(client, item.target as PauseScope, {
          actor,
          action: 'pause.lifted',
          subject: item.target,
          data,
        });
        return;
      case 'block_network':
        if (await liftIpBlock(client, item.target, incidentReason(incidentId)))
          await appendAudit(client, { actor, action: 'ip_block.lifted', subject: `ip:${item.target}`, data });
        return;
      case 'breaker_soft':
        await updateScopeLimits(
          client,
          item.target,
          { breaker: { soft: item.previousSoftMicros === null ? null : BigInt(item.previousSoftMicros) } },
          actor,
        );
    }
  }

  private async find(id: string): Promise<IncidentRecord> {
    const incident = /^[1-9][0-9]{0,17}$/.test(id) ? await findIncident(this.deps.pool, id) : null;
    if (!incident) throw new Clawd402Error('not_found', 'No such incident.');
    return incident;
  }

  private conflict(status: string): Clawd402Error {
    return new Clawd402Error('incident_state_conflict', `The incident is already ${status}.`);
  }
}
