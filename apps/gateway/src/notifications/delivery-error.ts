/**
 * Why a delivery failed, as stored on the outbox row (`last_error_code`) and answered by the test endpoint. The
 * destination checks fail with the API codes `notification_url_invalid`, `notification_destination_unresolvable` and
 * `notification_destination_forbidden` (the same codes the admin routes answer when saving). Listed in
 * docs/notifications.md.
 */
export const DELIVERY_FAILURES = {
  http_error: 'The endpoint answered with a non-2xx status (5xx, 408 and 429 are retried; other statuses are not).',
  redirect_refused: 'The endpoint answered with a redirect; redirects are never followed.',
  timeout: 'The endpoint did not answer in time (NOTIFY_TIMEOUT_MS).',
  network_error: 'The connection failed (refused, reset, TLS certificate rejected, …).',
  smtp_error: 'The SMTP server refused the message or the connection failed.',
  channel_not_configured: 'No channel of that name is configured (yet); retried in case an operator adds it.',
  secret_unavailable: "The channel's sealed secret cannot be opened (SECRETS_KEY_FILE missing or changed).",
  notification_url_invalid: 'The URL fails the scheme rules (https in production).',
  notification_destination_unresolvable: 'The host name does not resolve.',
  notification_destination_forbidden: 'The host resolves to a non-public address.',
} as const;

export type DeliveryFailureCode = keyof typeof DELIVERY_FAILURES;

/** A failed delivery attempt: a code from {@link DELIVERY_FAILURES}, our own sentence, and whether to retry. */
export class DeliveryError extends Error {
  readonly code: DeliveryFailureCode;
  readonly httpStatus: number | null;
  readonly retryable: boolean;

  constructor(code: DeliveryFailureCode, message: string, options: { httpStatus?: number; retryable: boolean }) {
    super(message);
    this.name = 'DeliveryError';
    this.code = code;
    this.httpStatus = options.httpStatus ?? null;
    this.retryable = options.retryable;
  }
}
