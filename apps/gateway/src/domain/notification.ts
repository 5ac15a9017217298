/** Notification channels and messages: the kinds, names and settings stored for a channel, and what an outbox row
 * carries. Shared by the outbox repository, the dispatcher and the admin API. */
export const CHANNEL_KINDS = ['webhook', 'slack', 'email', 'pagerduty'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** A name policies refer to: `slack`, `email`, `oncall`, `treasury-alerts`. */
export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];

/** SMTP transport security: implicit TLS (usually port 465), STARTTLS required (587), or none (outside production). */
export const SMTP_TLS_MODES = ['implicit', 'starttls', 'none'] as const;
export type SmtpTls = (typeof SMTP_TLS_MODES)[number];

/** Non-secret settings, per kind (stored as JSON, answered by GET). */
export type ChannelSettings =
  | { kind: 'webhook'; url: string }
  | { kind: 'slack' }
  | { kind: 'email'; host: string; port: number; tls: SmtpTls; username: string | null; from: string; to: string[] }
  | { kind: 'pagerduty'; url: string; severity: PagerDutySeverity };

/** What every format renders: the headline, the event, a few facts from the payload, and approval links. */
export interface NotificationMessage {
  /** Outbox row id (a decimal string). */
  id: string;
  channel: string;
  event: string;
  subject: string;
  payload: Record<string, unknown>;
  dedupeKey: string | null;
  createdAt: Date;
}
