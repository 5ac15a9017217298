import type pg from 'pg';
import { logEvent } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { AlertRouting } from '../domain/alert.ts';
import type { Logger } from '../domain/logger.ts';
import {
  claimDigest,
  claimUnroutedAlerts,
  foldAlert,
  markDigested,
  routeAlert,
} from '../repositories/alerts-repository.ts';
import { enqueueNotification } from '../repositories/notifications-repository.ts';

const BATCH = 100;

/**
 * Routes raised alerts to people (docs/incidents.md). A pass claims the alerts not yet routed (one router at a time,
 * under an advisory lock): a repeat of a kind and subject within the deduplication window is folded into the first
 * (counted, never sent); any other goes to the channels of its severity through the notification outbox, in the
 * same transaction. Then, when the oldest medium alert not yet digested is a digest interval old, one digest
 * carries them all to the digest channels. Delivery, retries and SSRF rules are the outbox's.
 */
export class AlertRouter {
  constructor(private readonly deps: { pool: pg.Pool; routing: AlertRouting; log: Logger }) {}

  /** One pass: route, then digest. The `alert-router` worker's tick; tests call it directly. */
  async tick(now: Date = new Date()): Promise<{ again: boolean }> {
    const routed = await this.routeOnce();
    await this.digestOnce(now);
    return { again: routed >= BATCH };
  }

  /** Route (or fold) the alerts not yet routed; returns how many were claimed. */
  async routeOnce(): Promise<number> {
    const { pool, routing, log } = this.deps;
    return withTransaction(pool, async (client) => {
      const claimed = await claimUnroutedAlerts(client, routing.dedupSeconds, BATCH);
      for (const { alert, firstId } of claimed) {
        if (firstId !== null) {
          await foldAlert(client, alert.id, firstId);
          continue;
        }
        const channels = routing.routes[alert.severity];
        await routeAlert(client, alert, channels);
        logEvent(log, 'system.alert_opened', {
          alertId: alert.id,
          kind: alert.kind,
          severity: alert.severity,
          subject: alert.subject,
          channels,
        });
      }
      return claimed.length;
    });
  }

  /** Send the digest of medium alerts when it is due; returns how many alerts it carried. */
  async digestOnce(now: Date = new Date()): Promise<number> {
    const { pool, routing } = this.deps;
    if (routing.digestChannels.length === 0) return 0;
    return withTransaction(pool, async (client) => {
      const alerts = await claimDigest(client, routing.digestIntervalSeconds, now);
      if (alerts.length === 0) return 0;
      const first = alerts[0]!;
      const lines = alerts.map(
        (a) =>
          `${a.at.toISOString()} ${a.kind} ${a.subject}${a.occurrences > 1 ? ` ×${a.occurrences}` : ''}: ${a.summary}`,
      );
      for (const channel of routing.digestChannels) {
        await enqueueNotification(client, {
          channel,
          event: 'alert.digest',
          subject: `Alert digest: ${alerts.length} medium alert${alerts.length === 1 ? '' : 's'} since ${first.at.toISOString()}`,
          payload: {
            count: alerts.length,
            alertIds: alerts.map((a) => a.id),
            alerts: lines.join('\n').slice(0, 30_000),
          },
          dedupeKey: `alert-digest:${first.id}`,
        });
      }
      await markDigested(
        client,
        alerts.map((a) => a.id),
      );
      return alerts.length;
    });
  }
}
