/**
 * Alerts that reach people (docs/incidents.md). What other code calls:
 * - `raiseAlert(client, { kind, severity, subject, summary, detail })`, inside the transaction that makes the change
 *   it reports (or with the pool). The router deduplicates per kind and subject and routes by severity.
 * - `ALERT_KINDS` for the catalogue's default severities.
 */
export { raiseAlert, ALERTS_CHANNEL } from '../repositories/alerts-repository.ts';
export {
  ALERT_KINDS,
  ALERT_SEVERITIES,
  type AlertInput,
  type AlertSeverity,
  type AlertRouting,
} from '../domain/alert.ts';
export { AlertRouter } from './alert-router.ts';
export { AlertWatch, type AlertWatchSettings } from './alert-watch.ts';
