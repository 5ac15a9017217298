import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { Clawd402Error, ErrorBody } from '@clawd402/protocol';
import { withTransaction } from '../../db/pool.ts';
import { appendAudit } from '../../repositories/audit-repository.ts';
import {
  deleteChannel,
  findChannelsByName,
  listChannels,
  listOutbox,
  retryDeadNotification,
  upsertChannel,
  type ChannelRecord,
  type NotificationState,
} from '../../repositories/notifications-repository.ts';
import {
  CHANNEL_NAME,
  PAGERDUTY_SEVERITIES,
  SMTP_TLS_MODES,
  secretContext,
  secretHint,
  splitChannelInput,
  type ChannelInput,
} from '../../notifications/channel-settings.ts';
import { checkDestination } from '../../notifications/destination-policy.ts';
import { me } from './users.ts';

const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Url = Type.String({ minLength: 1, maxLength: 2048 });
const Email = Type.String({ maxLength: 254, pattern: '^[^\\s@<>",;]+@[^\\s@<>",;]+$' });

const WebhookBody = Type.Object(
  // The HMAC secret: at least 32 characters (e.g. `openssl rand -hex 32`).
  { kind: Type.Literal('webhook'), url: Url, secret: Type.String({ minLength: 32, maxLength: 256 }) },
  { additionalProperties: false },
);
const SlackBody = Type.Object({ kind: Type.Literal('slack'), url: Url }, { additionalProperties: false });
const EmailBody = Type.Object(
  {
    kind: Type.Literal('email'),
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    tls: literals(SMTP_TLS_MODES),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    from: Email,
    to: Type.Array(Email, { minItems: 1, maxItems: 20 }),
  },
  { additionalProperties: false },
);
const PagerDutyBody = Type.Object(
  {
    kind: Type.Literal('pagerduty'),
    routingKey: Type.String({ pattern: '^[\\x21-\\x7e]{16,128}$' }),
    url: Type.Optional(Url),
    severity: Type.Optional(literals(PAGERDUTY_SEVERITIES)),
  },
  { additionalProperties: false },
);
// Discriminated on `kind`, so a bad field is reported against the right variant.
const ChannelBody = { type: 'object', discriminator: { propertyName: 'kind' }, required: ['kind'], oneOf: [WebhookBody, SlackBody, EmailBody, PagerDutyBody] };

const NameParams = Type.Object({ name: Type.String({ pattern: CHANNEL_NAME.source }) });

// Declared field by field: the serializer drops anything else, so a secret can never slip into an answer.
const ChannelView = Type.Object(
  {
    name: Type.String(),
    kind: Type.String(),
    settings: Type.Object(
      {
        url: Type.Optional(Type.String()),
        host: Type.Optional(Type.String()),
        port: Type.Optional(Type.Integer()),
        tls: Type.Optional(Type.String()),
        username: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        from: Type.Optional(Type.String()),
        to: Type.Optional(Type.Array(Type.String())),
        severity: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    secret: Type.Union([Type.Object({ hint: Type.String() }, { additionalProperties: false }), Type.Null()]),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { additionalProperties: false },
);
const Outcome = Type.Object(
  {
    id: Type.String(),
    channel: Type.String(),
    delivered: Type.Boolean(),
    status: Type.String(),
    attempts: Type.Integer(),
    httpStatus: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  },
  { additionalProperties: false },
);

function view(c: ChannelRecord) {
  const { kind: _kind, ...settings } = c.settings;
  return {
    name: c.name,
    kind: c.kind,
    settings,
    secret: c.secretSealed === null ? null : { hint: c.secretHint ?? '…' },
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

/**
 * /admin/notifications/channels: the channels notifications go to, by the names policies use. Secrets are sealed
 * with the SecretBox and never answered; URLs are held to the public-address rule when saved (and again at every
 * delivery). Every change is audited in its own transaction.
 */
const adminNotifications: FastifyPluginAsync = async (app) => {
  const { pool, config, secrets, notifications } = app.services;
  const production = config.env === 'production';
  const rules = { production, allowPrivateAddresses: config.notifications.allowPrivateAddresses };

  app.get(
    '/admin/notifications/channels',
    { config: { permission: 'notifications:read' }, schema: { response: { 200: Type.Object({ items: Type.Array(ChannelView) }), '4xx': ErrorBody } } },
    async () => ({ items: (await listChannels(pool)).map(view) }),
  );

  app.put(
    '/admin/notifications/channels/:name',
    {
      config: { permission: 'notifications:write' },
      schema: { params: NameParams, body: ChannelBody, response: { 200: ChannelView, 201: ChannelView, '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (request, reply) => {
      const actor = me(request);
      const { name } = request.params as { name: string };
      const input = request.body as ChannelInput;
      if (input.kind === 'email') {
        if (production && input.tls === 'none') {
          throw new Clawd402Error('invalid_request', 'SMTP without TLS is refused in production: use "implicit" or "starttls".', { details: { field: 'tls', location: 'body' } });
        }
        if (input.password !== undefined && input.username === undefined) {
          throw new Clawd402Error('invalid_request', 'An SMTP password needs a username.', { details: { field: 'username', location: 'body' } });
        }
      }
      const { settings, secret, url } = splitChannelInput(input);
      if (url !== null) await checkDestination(url, rules);
      if (secret !== null && !secrets) throw new Clawd402Error('secrets_unavailable');
      const secretSealed = secret === null ? null : secrets!.seal(secret, secretContext(name, input.kind));
      const saved = await withTransaction(pool, async (client) => {
        const result = await upsertChannel(client, { name, settings, secretSealed, secretHint: secret === null ? null : secretHint(input.kind, secret) });
        const { kind, ...shown } = settings;
        await appendAudit(client, {
          actor: `user:${actor.userId}`,
          action: result.created ? 'notification_channel.created' : 'notification_channel.updated',
          subject: `notification_channel:${name}`,
          data: { kind, settings: shown, secretSet: secret !== null },
        });
        return result;
      });
      return reply.status(saved.created ? 201 : 200).send(view(saved.record));
    },
  );

  app.delete(
    '/admin/notifications/channels/:name',
    { config: { permission: 'notifications:write' }, schema: { params: NameParams, response: { '4xx': ErrorBody } } },
    async (request, reply) => {
      const actor = me(request);
      const { name } = request.params as { name: string };
      const deleted = await withTransaction(pool, async (client) => {
        const removed = await deleteChannel(client, name);
        if (removed) {
          await appendAudit(client, { actor: `user:${actor.userId}`, action: 'notification_channel.deleted', subject: `notification_channel:${name}`, data: { kind: removed.kind } });
        }
        return removed;
      });
      if (!deleted) throw new Clawd402Error('not_found', 'No such notification channel.');
      return reply.status(204).send();
    },
  );

  app.post(
    '/admin/notifications/channels/:name/test',
    { config: { permission: 'notifications:write' }, schema: { params: NameParams, response: { 200: Outcome, '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request) => {
      const actor = me(request);
      const { name } = request.params as { name: string };
      const channel = (await findChannelsByName(pool, [name])).get(name);
      if (!channel) throw new Clawd402Error('not_found', 'No such notification channel.');
      const outcome = await notifications.sendTest(
        channel,
        { event: 'notification.test', subject: `Test notification for channel "${name}"`, payload: { channel: name, kind: channel.kind } },
        (client, id) =>
          appendAudit(client, { actor: `user:${actor.userId}`, action: 'notification_channel.tested', subject: `notification_channel:${name}`, data: { notificationId: id } }),
      );
      return {
        id: outcome.id,
        channel: outcome.channel,
        delivered: outcome.status === 'delivered',
        status: outcome.status,
        attempts: outcome.attempts,
        httpStatus: outcome.httpStatus,
        error: outcome.error,
      };
    },
  );

  const stateView = (n: NotificationState) => ({
    ...n,
    nextAttemptAt: n.nextAttemptAt.toISOString(),
    lastAttemptAt: n.lastAttemptAt?.toISOString() ?? null,
    deliveredAt: n.deliveredAt?.toISOString() ?? null,
  });

  // The outbox for operators: what is pending, delivered or dead-lettered, and a retry for dead letters.
  app.get(
    '/admin/notifications/outbox',
    {
      config: { permission: 'notifications:read' },
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')])),
            channel: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|100)$' })),
          },
          { additionalProperties: false },
        ),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const q = request.query as { status?: NotificationState['status']; channel?: string; limit?: string };
      const items = await listOutbox(pool, { ...(q.status ? { status: q.status } : {}), ...(q.channel ? { channel: q.channel } : {}), limit: q.limit ? Number(q.limit) : 50 });
      return { items: items.map(stateView) };
    },
  );

  app.post(
    '/admin/notifications/outbox/:id/retry',
    {
      config: { permission: 'notifications:write' },
      schema: { params: Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,18}$' }) }), response: { '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const retried = await withTransaction(pool, async (client) => {
        const moved = await retryDeadNotification(client, id);
        if (moved) {
          await appendAudit(client, { actor: `user:${me(request).userId}`, action: 'notifications.retried', subject: `notification:${id}`, data: { channel: moved.channel, event: moved.event } });
        }
        return moved;
      });
      if (!retried) throw new Clawd402Error('not_found', 'No dead-lettered notification with that id.');
      return stateView(retried);
    },
  );
};
export default adminNotifications;
