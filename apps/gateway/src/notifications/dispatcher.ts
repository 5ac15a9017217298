import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { Logger } from '../domain/logger.ts';
import {
  claimDueNotifications,
  findChannelsByName,
  insertClaimedNotification,
  recordDelivered,
  recordFailed,
  type ChannelRecord,
  type ClaimedNotification,
  type NewNotification,
} from '../repositories/notifications-repository.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { secretContext } from './channel-settings.ts';
import type { DeliveryContext } from './delivery-context.ts';
import { DeliveryError, type DeliveryFailureCode } from './delivery-error.ts';
import type { Resolver } from './destination-policy.ts';
import { sendEmail } from './email-channel.ts';
import { sendPagerDuty } from './pagerduty-channel.ts';
import { sendSlack } from './slack-channel.ts';
import { sendWebhook } from './webhook-channel.ts';

export interface DispatcherSettings {
  /** Production: https only, SMTP only over TLS. */
  production: boolean;
  /** NOTIFY_ALLOW_PRIVATE_ADDRESSES (never in production). */
  allowPrivateAddresses: boolean;
  /** Attempts before a notification is dead-lettered. */
  maxAttempts: number;
  /** Per-attempt limit (connect + answer). */
  timeoutMs: number;
  /** CONSOLE_BASE_URL, for approval links; null leaves them out. */
  consoleBaseUrl: string | null;
}

export interface DispatcherDeps {
  pool: pg.Pool;
  /** Opens channel secrets; null when SECRETS_KEY_FILE is unset (deliveries needing a secret then fail). */
  secrets: SecretBox | null;
  log: Logger;
  settings: DispatcherSettings;
  /** The clock (injectable for tests): due times, backoff and webhook signature timestamps use it. */
  clock?: () => Date;
  /** [0, 1) source for backoff jitter (injectable for tests). */
  random?: () => number;
  /** DNS (injectable for tests). */
  resolve?: Resolver;
  /** Backoff: attempt n waits base × 2^(n−1), at most cap, then jitter takes it to between half and all of that. */
  backoff?: { baseMs: number; capMs: number };
}

/** The outcome of one delivery attempt, as the test endpoint answers it. */
export interface DeliveryOutcome {
  id: string;
  channel: string;
  status: 'delivered' | 'pending' | 'dead';
  attempts: number;
  httpStatus: number | null;
  error: { code: string; message: string } | null;
  nextAttemptAt: Date | null;
}

export interface DispatchSummary {
  claimed: number;
  delivered: number;
  retrying: number;
  dead: number;
}

const BATCH = 20;
const MAX_BATCHES_PER_PASS = 10;
const PARALLEL = 4;

/**
 * Delivers the notification outbox. Every gateway process runs one as the `notification-dispatcher` worker
 * (workers/gateway-workers.ts): a timer and LISTEN/NOTIFY (enqueueNotification notifies at COMMIT) start passes; a
 * pass claims due rows with FOR UPDATE SKIP LOCKED (so processes never deliver the same row at once), delivers each
 * to its channel, and records the outcome on the row: delivered; pending again after an exponential backoff with
 * jitter; or dead once the attempts run out or the failure is permanent (a 4xx, a redirect, a forbidden destination).
 *
 * Delivery is at-least-once: a process that dies after the endpoint accepted but before the outcome was recorded
 * will have the row delivered again after its lease. Receivers deduplicate on the notification id
 * (`X-Clawd402-Delivery`, the body's `id`) or the dedupe key.
 */
export class NotificationDispatcher {
  private readonly clock: () => Date;
  private readonly random: () => number;
  private readonly backoff: { baseMs: number; capMs: number };

  constructor(private readonly deps: DispatcherDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.backoff = deps.backoff ?? { baseMs: 10_000, capMs: 30 * 60_000 };
  }

  /** A claimed row stays leased this long: longer than any attempt can take. */
  private get leaseMs(): number {
    return 2 * this.deps.settings.timeoutMs + 30_000;
  }

  /**
   * The `notification-dispatcher` worker's tick: one pass, and `again` when the pass stopped at its batch limit
   * with more due (the next pass then starts at once).
   */
  async tick(): Promise<{ again: boolean }> {
    const summary = await this.dispatchOnce();
    return { again: summary.claimed >= BATCH * MAX_BATCHES_PER_PASS };
  }

  /**
   * One pass: claim every due notification (in batches) and attempt each once. Deterministic with an injected clock;
   * tests call it directly instead of starting the worker.
   */
  async dispatchOnce(): Promise<DispatchSummary> {
    const summary: DispatchSummary = { claimed: 0, delivered: 0, retrying: 0, dead: 0 };
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch += 1) {
      const now = this.clock();
      const claimed = await claimDueNotifications(this.deps.pool, now, new Date(now.getTime() + this.leaseMs), BATCH);
      summary.claimed += claimed.length;
      if (claimed.length === 0) break;
      const channels = await findChannelsByName(this.deps.pool, [...new Set(claimed.map((c) => c.channel))]);
      for (let i = 0; i < claimed.length; i += PARALLEL) {
        const outcomes = await Promise.all(
          claimed.slice(i, i + PARALLEL).map((n) => this.attempt(n, channels.get(n.channel) ?? null)),
        );
        for (const o of outcomes) summary[o.status === 'pending' ? 'retrying' : o.status] += 1;
      }
      if (claimed.length < BATCH) break;
    }
    return summary;
  }

  /**
   * The test endpoint: insert a test notification for `channel`, already claimed by this call, attempt it once and
   * answer the outcome (a failed test is dead at once; it is never retried). `audit` runs in the insert's transaction.
   */
  async sendTest(
    channel: ChannelRecord,
    notification: Omit<NewNotification, 'channel'>,
    audit: (client: pg.PoolClient, id: string) => Promise<void>,
  ): Promise<DeliveryOutcome> {
    const now = this.clock();
    const row = await withTransaction(this.deps.pool, async (client) => {
      const inserted = await insertClaimedNotification(
        client,
        { ...notification, channel: channel.name },
        now,
        new Date(now.getTime() + this.leaseMs),
        1,
      );
      await audit(client, inserted.id);
      return inserted;
    });
    return this.attempt(row, channel);
  }

  /** Attempt one claimed notification and record the outcome on its row. */
  private async attempt(n: ClaimedNotification, channel: ChannelRecord | null): Promise<DeliveryOutcome> {
    const now = this.clock();
    const maxAttempts = n.maxAttempts ?? this.deps.settings.maxAttempts;
    try {
      const result = await this.deliver(n, channel, now);
      await recordDelivered(this.deps.pool, n.id, n.attempt, this.clock(), result.status);
      return {
        id: n.id,
        channel: n.channel,
        status: 'delivered',
        attempts: n.attempt,
        httpStatus: result.status,
        error: null,
        nextAttemptAt: null,
      };
    } catch (cause) {
      const failure = toDeliveryError(cause);
      if (!(cause instanceof DeliveryError) && !(cause instanceof Clawd402Error)) {
        // Name and code only: an unexpected error's message could quote a URL, and a Slack URL is a secret.
        const e = cause as { name?: unknown; code?: unknown } | null;
        this.deps.log.error(
          {
            errName: typeof e?.name === 'string' ? e.name : 'unknown',
            errCode: typeof e?.code === 'string' || typeof e?.code === 'number' ? String(e.code) : '',
            notificationId: n.id,
            channel: n.channel,
          },
          'notification delivery failed unexpectedly',
        );
      }
      const dead = !failure.retryable || n.attempt >= maxAttempts;
      const nextAttemptAt = new Date(this.clock().getTime() + (dead ? 0 : this.delayMs(n.attempt)));
      await recordFailed(this.deps.pool, n.id, n.attempt, {
        dead,
        nextAttemptAt,
        code: failure.code,
        message: failure.message,
        httpStatus: failure.httpStatus,
      });
      const logLine = {
        notificationId: n.id,
        channel: n.channel,
        event: n.event,
        attempt: n.attempt,
        code: failure.code,
        httpStatus: failure.httpStatus,
      };
      if (dead) this.deps.log.warn(logLine, 'notification dead-lettered');
      else this.deps.log.info(logLine, 'notification delivery failed; will retry');
      return {
        id: n.id,
        channel: n.channel,
        status: dead ? 'dead' : 'pending',
        attempts: n.attempt,
        httpStatus: failure.httpStatus,
        error: { code: failure.code, message: failure.message },
        nextAttemptAt: dead ? null : nextAttemptAt,
      };
    }
  }

  /** Backoff before attempt `attempt + 1`: base × 2^(attempt−1), capped, with jitter between half and all of it. */
  delayMs(attempt: number): number {
    const { baseMs, capMs } = this.backoff;
    const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  private async deliver(
    n: ClaimedNotification,
    channel: ChannelRecord | null,
    now: Date,
  ): Promise<{ status: number | null }> {
    if (!channel)
      throw new DeliveryError('channel_not_configured', `No channel named "${n.channel}" is configured.`, {
        retryable: true,
      });
    const { settings } = this.deps;
    const ctx: DeliveryContext = {
      rules: {
        production: settings.production,
        allowPrivateAddresses: settings.allowPrivateAddresses,
        ...(this.deps.resolve ? { resolve: this.deps.resolve } : {}),
      },
      timeoutMs: settings.timeoutMs,
      now,
      consoleBaseUrl: settings.consoleBaseUrl,
    };
    const secret = this.openSecret(channel);
    const s = channel.settings;
    switch (s.kind) {
      case 'webhook':
        return sendWebhook(s.url, required(secret), n, ctx);
      case 'slack':
        return sendSlack(required(secret), n, ctx);
      case 'pagerduty':
        return sendPagerDuty(s.url, required(secret), s.severity, n, ctx);
      case 'email':
        return sendEmail(s, secret, n, ctx);
    }
  }

  private openSecret(channel: ChannelRecord): string | null {
    if (channel.secretSealed === null) return null;
    if (!this.deps.secrets)
      throw new DeliveryError(
        'secret_unavailable',
        'SECRETS_KEY_FILE is not configured; the channel secret cannot be opened.',
        { retryable: true },
      );
    try {
      return this.deps.secrets.open(channel.secretSealed, secretContext(channel.name, channel.kind));
    } catch {
      throw new DeliveryError(
        'secret_unavailable',
        'The channel secret does not open with the current SECRETS_KEY_FILE.',
        { retryable: true },
      );
    }
  }
}

function required(secret: string | null): string {
  if (secret === null)
    throw new DeliveryError('secret_unavailable', 'The channel has no secret stored.', { retryable: false });
  return secret;
}

/** Destination refusals keep their API code; unresolvable names may resolve later, the other refusals will not. */
function toDeliveryError(cause: unknown): DeliveryError {
  if (cause instanceof DeliveryError) return cause;
  if (
    cause instanceof Clawd402Error &&
    [
      'notification_url_invalid',
      'notification_destination_unresolvable',
      'notification_destination_forbidden',
    ].includes(cause.code)
  ) {
    const reason = typeof cause.details?.reason === 'string' ? ` (${cause.details.reason})` : '';
    return new DeliveryError(cause.code as DeliveryFailureCode, `${cause.message}${reason}`, {
      retryable: cause.code === 'notification_destination_unresolvable',
    });
  }
  return new DeliveryError('network_error', 'The delivery failed.', { retryable: true });
}
