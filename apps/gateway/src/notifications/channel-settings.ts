/**
 * Channel kinds and their settings. A channel's secret (webhook HMAC secret, Slack incoming-webhook URL, SMTP
 * password, PagerDuty routing key) is kept apart from its settings: sealed with the SecretBox at rest and never
 * answered by the admin API, which shows only a hint (its last four characters).
 */
export {
  CHANNEL_KINDS,
  CHANNEL_NAME,
  PAGERDUTY_SEVERITIES,
  SMTP_TLS_MODES,
  type ChannelKind,
  type ChannelSettings,
  type PagerDutySeverity,
  type SmtpTls,
} from '../domain/notification.ts';
import type { ChannelKind, ChannelSettings, PagerDutySeverity, SmtpTls } from '../domain/notification.ts';

export const PAGERDUTY_DEFAULT_URL = 'https://events.pagerduty.com/v2/enqueue';

/** What an operator sends to PUT /admin/notifications/channels/:name (secrets included). */
export type ChannelInput =
  | { kind: 'webhook'; url: string; secret: string }
  | { kind: 'slack'; url: string }
  | {
      kind: 'email';
      host: string;
      port: number;
      tls: SmtpTls;
      username?: string;
      password?: string;
      from: string;
      to: string[];
    }
  | { kind: 'pagerduty'; routingKey: string; url?: string; severity?: PagerDutySeverity };

/** Split operator input into the settings stored in the clear, the secret to seal (or null), and the URL to vet. */
export function splitChannelInput(input: ChannelInput): {
  settings: ChannelSettings;
  secret: string | null;
  url: string | null;
} {
  switch (input.kind) {
    case 'webhook':
      return { settings: { kind: 'webhook', url: input.url }, secret: input.secret, url: input.url };
    case 'slack':
      return { settings: { kind: 'slack' }, secret: input.url, url: input.url };
    case 'email':
      return {
        settings: {
          kind: 'email',
          host: input.host,
          port: input.port,
          tls: input.tls,
          username: input.username ?? null,
          from: input.from,
          to: input.to,
        },
        secret: input.password ?? null,
        url: null,
      };
    case 'pagerduty': {
      const url = input.url ?? PAGERDUTY_DEFAULT_URL;
      return {
        settings: { kind: 'pagerduty', url, severity: input.severity ?? 'warning' },
        secret: input.routingKey,
        url,
      };
    }
  }
}

/**
 * What GET shows of a secret: its last four characters when it is long enough for that to reveal little (a Slack
 * URL shows its origin too), else nothing but the fact that one is set.
 */
export function secretHint(kind: ChannelKind, secret: string): string {
  const last4 = secret.length >= 16 ? secret.slice(-4) : '';
  if (kind === 'slack') {
    try {
      return `${new URL(secret).origin}/…${last4}`;
    } catch {
      return `…${last4}`;
    }
  }
  return `…${last4}`;
}

/** The SecretBox context a channel's secret is sealed under: a sealed value copied to another channel won't open. */
export const secretContext = (name: string, kind: ChannelKind): string => `notification-channel:${name}:${kind}`;
