import { PAGERDUTY_SEVERITIES, type PagerDutySeverity } from './channel-settings.ts';
import { postJsonToChannel, type DeliveryContext } from './delivery-context.ts';
import { approvalLinks, truncate, type NotificationMessage } from './message-content.ts';
import type { PostResult } from './pinned-http.ts';

/**
 * A PagerDuty Events API v2 trigger. `dedup_key` is the notification's dedupe key (or `clawd402-<id>`), so retries
 * and repeats of one situation stay one incident. Severity: `payload.severity` when it is one of PagerDuty's four,
 * else the channel's. Approvals link to the console.
 */
export function pagerDutyEvent(
  message: NotificationMessage,
  routingKey: string,
  severity: PagerDutySeverity,
  consoleBaseUrl: string | null,
): Record<string, unknown> {
  const links = approvalLinks(consoleBaseUrl, message.payload);
  const requested = message.payload.severity;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: truncate(message.dedupeKey ?? `clawd402-${message.id}`, 255),
    payload: {
      summary: truncate(message.subject, 1024),
      source: 'clawd402',
      severity: PAGERDUTY_SEVERITIES.includes(requested as PagerDutySeverity) ? requested : severity,
      timestamp: message.createdAt.toISOString(),
      component: 'gateway',
      class: message.event,
      custom_details: message.payload,
    },
    ...(links ? { links: [{ href: links.view, text: 'Open in the Clawd402 console' }] } : {}),
  };
}

/** POST the event to the channel's Events v2 endpoint (default https://events.pagerduty.com/v2/enqueue). */
export async function sendPagerDuty(
  url: string,
  routingKey: string,
  severity: PagerDutySeverity,
  message: NotificationMessage,
  ctx: DeliveryContext,
): Promise<PostResult> {
  return postJsonToChannel(url, JSON.stringify(pagerDutyEvent(message, routingKey, severity, ctx.consoleBaseUrl)), ctx);
}
