import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { AlertInput, AlertRecord } from '../domain/alert.ts';
import {
  findAlert,
  listAlerts,
  raiseAlert,
  setAlertStatus,
  type AlertFilter,
} from '../repositories/alerts-repository.ts';
import type { Actor } from '../repositories/audit-repository.ts';

export type { AlertInput, AlertSeverity, AlertRecord } from '../domain/alert.ts';
export type { AlertFilter } from '../repositories/alerts-repository.ts';

/**
 * Alerts for operators (docs/incidents.md): raised by HTTP-level defences such as rate-limit blocks (other code calls
 * `raiseAlert` in its own transaction), listed, acknowledged and resolved by operators.
 */
export class AlertsService {
  constructor(private readonly deps: { pool: pg.Pool }) {}

  /** Raise an alert; returns its id. Never put secrets in `detail`. */
  raise(alert: AlertInput): Promise<string> {
    return raiseAlert(this.deps.pool, alert);
  }

  list(filter: AlertFilter): Promise<AlertRecord[]> {
    return listAlerts(this.deps.pool, filter);
  }

  async get(id: string): Promise<AlertRecord> {
    const alert = /^[1-9][0-9]{0,17}$/.test(id) ? await findAlert(this.deps.pool, id) : null;
    if (!alert) throw new Clawd402Error('not_found', 'No such alert.');
    return alert;
  }

  /**
   * Acknowledge (someone is on it) or resolve an alert, audited with the acting user. An alert already acknowledged
   * or resolved answers `409 alert_state_conflict`.
   */
  async setStatus(
    id: string,
    to: 'acknowledged' | 'resolved',
    actor: Actor,
    note: string | null,
  ): Promise<AlertRecord> {
    const alert = await this.get(id);
    const moved = await withTransaction(this.deps.pool, (client) => setAlertStatus(client, alert.id, to, actor, note));
    if (!moved) throw new Clawd402Error('alert_state_conflict', `The alert is already ${(await this.get(id)).status}.`);
    return moved;
  }
}
