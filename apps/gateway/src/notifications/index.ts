/**
 * Notifications: operators configure channels (webhook, Slack, email, PagerDuty); other code enqueues notifications
 * in its own transaction; the dispatcher delivers them. See docs/notifications.md.
 *
 * What other code calls:
 * - `enqueueNotification(client, { channel, event, subject, payload, dedupeKey? })` inside the transaction that makes
 *   the change it announces.
 * - `listChannelNames(pool)` for the policy linter's "every named channel is configured" check.
 * - `verifyWebhookSignature(secret, header, body, now, toleranceSec)` for receivers of the generic webhook.
 */
export {
  enqueueNotification,
  listChannelNames,
  type NewNotification,
} from '../repositories/notifications-repository.ts';
export {
  NotificationDispatcher,
  type DeliveryOutcome,
  type DispatcherSettings,
  type DispatchSummary,
} from './dispatcher.ts';
export { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhook-signature.ts';
export { checkDestination, nonPublicReason, type Resolver } from './destination-policy.ts';
export { CHANNEL_KINDS, CHANNEL_NAME, type ChannelKind } from './channel-settings.ts';
