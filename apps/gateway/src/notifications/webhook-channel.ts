import { postJsonToChannel, type DeliveryContext } from './delivery-context.ts';
import { approvalLinks, type NotificationMessage } from './message-content.ts';
import type { PostResult } from './pinned-http.ts';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature.ts';

/**
 * The generic webhook body: JSON with the notification's id (stable across retries: receivers deduplicate on it),
 * event, subject, payload, dedupe key, creation time and, for approvals, console links.
 */
export function webhookBody(message: NotificationMessage, consoleBaseUrl: string | null): string {
  return JSON.stringify({
    id: message.id,
    event: message.event,
    subject: message.subject,
    payload: message.payload,
    dedupeKey: message.dedupeKey,
    createdAt: message.createdAt.toISOString(),
    links: approvalLinks(consoleBaseUrl, message.payload),
  });
}

/** POST the body to the channel's URL, signed: `X-Clawd402-Signature: t=<unix>,v1=<hex HMAC-SHA256>`. */
export async function sendWebhook(
  url: string,
  secret: string,
  message: NotificationMessage,
  ctx: DeliveryContext,
): Promise<PostResult> {
  const body = webhookBody(message, ctx.consoleBaseUrl);
  const timestamp = Math.floor(ctx.now.getTime() / 1000);
  return postJsonToChannel(url, body, ctx, {
    [SIGNATURE_HEADER]: signWebhook(secret, body, timestamp),
    'x-clawd402-event': message.event,
    'x-clawd402-delivery': message.id,
  });
}
