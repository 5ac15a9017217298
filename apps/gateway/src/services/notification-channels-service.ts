import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import type { UserPrincipal } from '../domain/principal.ts';
import { secretContext, secretHint, splitChannelInput, type ChannelInput } from '../notifications/channel-settings.ts';
import { checkDestination, type DestinationRules } from '../notifications/destination-policy.ts';
import type { DeliveryOutcome, NotificationDispatcher } from '../notifications/dispatcher.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import {
  deleteChannel,
  findChannelsByName,
  listChannels,
  listOutbox,
  retryDeadNotification,
  upsertChannel,
  type ChannelRecord,
  type NotificationState,
} from '../repositories/notifications-repository.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { auditedChange } from './audited-change.ts';

export type { ChannelRecord, NotificationState } from '../repositories/notifications-repository.ts';

/**
 * The channels notifications go to, by the names policies use, and the outbox operators inspect. Secrets are sealed
 * with the SecretBox and never answered; URLs are held to the public-address rule when saved (and again at every
 * delivery). Every change is audited in its own transaction.
 */
export class NotificationChannelsService {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      secrets: SecretBox | null;
      dispatcher: NotificationDispatcher;
      rules: DestinationRules;
    },
  ) {}

  list(): Promise<ChannelRecord[]> {
    return listChannels(this.deps.pool);
  }

  /** Create or replace a channel; `created` says which. */
  async put(
    actor: UserPrincipal,
    name: string,
    input: ChannelInput,
  ): Promise<{ record: ChannelRecord; created: boolean }> {
    const { pool, secrets, rules } = this.deps;
    if (input.kind === 'email') {
      if (rules.production && input.tls === 'none') {
        throw new Clawd402Error(
          'invalid_request',
          'SMTP without TLS is refused in production: use "implicit" or "starttls".',
          { details: { field: 'tls', location: 'body' } },
        );
      }
      if (input.password !== undefined && input.username === undefined) {
        throw new Clawd402Error('invalid_request', 'An SMTP password needs a username.', {
          details: { field: 'username', location: 'body' },
        });
      }
    }
    const { settings, secret, url } = splitChannelInput(input);
    if (url !== null) await checkDestination(url, rules);
    if (secret !== null && !secrets) throw new Clawd402Error('secrets_unavailable');
    const secretSealed = secret === null ? null : secrets!.seal(secret, secretContext(name, input.kind));
    const { kind, ...shown } = settings;
    return auditedChange(
      pool,
      (client) =>
        upsertChannel(client, {
          name,
          settings,
          secretSealed,
          secretHint: secret === null ? null : secretHint(input.kind, secret),
        }),
      (result) => ({
        actor: `user:${actor.userId}`,
        action: result.created ? 'notification_channel.created' : 'notification_channel.updated',
        subject: `notification_channel:${name}`,
        data: { kind, settings: shown, secretSet: secret !== null },
      }),
    );
  }

  async delete(actor: UserPrincipal, name: string): Promise<void> {
    const deleted = await auditedChange(
      this.deps.pool,
      (client) => deleteChannel(client, name),
      (removed) => ({
        actor: `user:${actor.userId}`,
        action: 'notification_channel.deleted',
        subject: `notification_channel:${name}`,
        data: { kind: removed.kind },
      }),
    );
    if (!deleted) throw new Clawd402Error('not_found', 'No such notification channel.');
  }

  /** Send a test notification through the channel now (audited), and say how the delivery went. */
  async test(actor: UserPrincipal, name: string): Promise<DeliveryOutcome> {
    const channel = (await findChannelsByName(this.deps.pool, [name])).get(name);
    if (!channel) throw new Clawd402Error('not_found', 'No such notification channel.');
    return this.deps.dispatcher.sendTest(
      channel,
      {
        event: 'notification.test',
        subject: `Test notification for channel "${name}"`,
        payload: { channel: name, kind: channel.kind },
      },
      (client, id) =>
        appendAudit(client, {
          actor: `user:${actor.userId}`,
          action: 'notification_channel.tested',
          subject: `notification_channel:${name}`,
          data: { notificationId: id },
        }),
    );
  }

  outbox(filter: {
    status?: NotificationState['status'];
    channel?: string;
    limit: number;
  }): Promise<NotificationState[]> {
    return listOutbox(this.deps.pool, filter);
  }

  /** Send a dead letter again (compare-and-set on `dead`), audited; `not_found` when no dead letter has that id. */
  async retry(actor: UserPrincipal, id: string): Promise<NotificationState> {
    const retried = await auditedChange(
      this.deps.pool,
      (client) => retryDeadNotification(client, id),
      (moved) => ({
        actor: `user:${actor.userId}`,
        action: 'notifications.retried',
        subject: `notification:${id}`,
        data: { channel: moved.channel, event: moved.event },
      }),
    );
    if (!retried) throw new Clawd402Error('not_found', 'No dead-lettered notification with that id.');
    return retried;
  }
}
