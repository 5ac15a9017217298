import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody } from '@clawd402/protocol';
import { CHANNEL_NAME, PAGERDUTY_SEVERITIES, SMTP_TLS_MODES } from '../../domain/notification.ts';
import type { ChannelInput } from '../../notifications/channel-settings.ts';
import type { ChannelRecord, NotificationState } from '../../services/notification-channels-service.ts';
import { AnyJson, Literals, NoContent, iso, withErrors } from '../schemas.ts';
import { ItemList, PageLimit, givenFilters, limitOr } from '../list-query.ts';
import { me } from '../acting-user.ts';

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
    tls: Literals(SMTP_TLS_MODES),
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
    severity: Type.Optional(Literals(PAGERDUTY_SEVERITIES)),
  },
  { additionalProperties: false },
);
// Discriminated on `kind`, so a bad field is reported against the right variant. Type.Unsafe keeps the JSON Schema
// exactly as written (a TypeBox union would be `anyOf`) and types the body.
const ChannelBody = Type.Unsafe<ChannelInput>({
  type: 'object',
  discriminator: { propertyName: 'kind' },
  required: ['kind'],
  oneOf: [WebhookBody, SlackBody, EmailBody, PagerDutyBody],
});

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
 * /admin/notifications/channels and /admin/notifications/outbox: the channels notifications go to, by the names
 * policies use (secrets are never answered), and the outbox with a retry for dead letters. The rules live in
 * services/notification-channels-service.ts.
 */
const adminNotifications: FastifyPluginAsyncTypebox = async (app) => {
  const { notificationChannels: channels } = app.services;

  app.get(
    '/admin/notifications/channels',
    {
      schema: { response: { 200: ItemList(ChannelView), '4xx': ErrorBody } },
    },
    async () => ({ items: (await channels.list()).map(view) }),
  );

  app.put(
    '/admin/notifications/channels/:name',
    {
      schema: {
        params: NameParams,
        body: ChannelBody,
        response: withErrors({ 200: ChannelView, 201: ChannelView }),
      },
    },
    async (request, reply) => {
      const saved = await channels.put(me(request), request.params.name, request.body);
      return reply.status(saved.created ? 201 : 200).send(view(saved.record));
    },
  );

  app.delete(
    '/admin/notifications/channels/:name',
    {
      schema: { params: NameParams, response: { 204: NoContent, '4xx': ErrorBody } },
    },
    async (request, reply) => {
      await channels.delete(me(request), request.params.name);
      return reply.status(204).send();
    },
  );

  app.post(
    '/admin/notifications/channels/:name/test',
    {
      schema: { params: NameParams, response: withErrors({ 200: Outcome }) },
    },
    async (request) => {
      const outcome = await channels.test(me(request), request.params.name);
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
    lastAttemptAt: iso(n.lastAttemptAt),
    deliveredAt: iso(n.deliveredAt),
  });

  // The outbox for operators: what is pending, delivered or dead-lettered, and a retry for dead letters.
  app.get(
    '/admin/notifications/outbox',
    {
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]),
            ),
            channel: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Type.Optional(PageLimit),
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: AnyJson }),
      },
    },
    async (request) => {
      const q = request.query;
      const items = await channels.outbox({
        ...givenFilters(q, ['status', 'channel']),
        limit: limitOr(q.limit, 50),
      });
      return { items: items.map(stateView) };
    },
  );

  app.post(
    '/admin/notifications/outbox/:id/retry',
    {
      schema: {
        params: Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,18}$' }) }),
        response: withErrors({ 200: AnyJson }),
      },
    },
    async (request) => stateView(await channels.retry(me(request), request.params.id)),
  );
};
export default adminNotifications;
