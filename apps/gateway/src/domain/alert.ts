/**
 * Alerts for operators (docs/incidents.md): a stable `kind`, a severity that decides where it goes, and a `subject`
 * (what it is about) that, with the kind, deduplicates it.
 */
export const ALERT_SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Every kind the gateway raises, with its default severity (the catalogue of docs/incidents.md). */
export const ALERT_KINDS = {
  ip_blocked: 'high',
  refresh_token_reused: 'critical',
  api_key_disabled: 'critical',
  api_key_quarantined: 'high',
  rate_limit_block: 'medium',
  transactions_failing: 'high',
  gas_spike: 'medium',
  rapid_spending: 'high',
  new_recipient: 'medium',
  rpc_endpoint_down: 'high',
  rpc_failover: 'high',
  signer_unreachable: 'critical',
  breaker_level_changed: 'high',
  approval_expiring: 'high',
  incident_opened: 'critical',
  transaction_reorged: 'high',
  audit_verification_failed: 'critical',
} as const satisfies Record<string, AlertSeverity>;
export type KnownAlertKind = keyof typeof ALERT_KINDS;

/** A kind: one of the catalogue, or another helper's own (snake_case), e.g. `audit_verification_failed`. */
export const ALERT_KIND = /^[a-z][a-z0-9_]{0,63}$/;

export interface AlertInput {
  kind: string;
  severity: AlertSeverity;
  /** What it is about, e.g. `agent:<uuid>`, `chain:1`, `ip:203.0.113.7` (1–200 characters). */
  subject: string;
  /** One sentence for people: the notification's headline (1–500 characters). */
  summary: string;
  /** JSON-safe detail for operators. Never secrets: no API keys, tokens, passwords or RPC URLs. */
  detail: Record<string, unknown>;
}

export interface AlertRecord {
  id: string;
  at: Date;
  kind: string;
  severity: AlertSeverity;
  subject: string;
  summary: string;
  detail: Record<string, unknown>;
  status: AlertStatus;
  occurrences: number;
  lastAt: Date;
  channels: string[];
  routedAt: Date | null;
  digestedAt: Date | null;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
}

/** Where each severity goes (channel names) and how long a repeat of a kind and subject is folded into the first. */
export interface AlertRouting {
  routes: Record<AlertSeverity, readonly string[]>;
  /** Channels that receive the digest of medium alerts. */
  digestChannels: readonly string[];
  /** A digest goes out once the oldest medium alert not yet in one is this old. */
  digestIntervalSeconds: number;
  dedupSeconds: number;
}

/** Severity that routes straight to channels vs. the digest. */
export function isDigested(severity: AlertSeverity): boolean {
  return severity === 'medium';
}
