import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, logEvent, parseAddress, type EventLogger } from '@clawd402/protocol';
import type { KeyScopes } from '../../domain/agent.ts';
import type { ApiKeyView, NewKey } from '../../services/agents-service.ts';
import { AnyJson, IdParams, Literals, NoContent, iso, withErrors } from '../schemas.ts';
import { ItemList } from '../list-query.ts';
import { me } from '../acting-user.ts';

const INTENT_TYPES = ['transfer', 'contract_call', 'swap', 'typed_data', 'message', 'authorization'] as const;

const ScopesBody = Type.Object(
  {
    chains: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 64 })),
    types: Type.Optional(Type.Array(Literals(INTENT_TYPES), { minItems: 1 })),
  },
  { additionalProperties: false },
);
const NewKeyBody = Type.Object(
  {
    label: Type.Optional(Type.String({ maxLength: 128 })),
    scopes: Type.Optional(ScopesBody),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false },
);
const KeyView = Type.Object(
  {
    id: Type.String(),
    keyId: Type.String(),
    agentId: Type.String(),
    label: Type.Union([Type.String(), Type.Null()]),
    scopes: Type.Object({
      chains: Type.Union([Type.Array(Type.Integer()), Type.Null()]),
      types: Type.Union([Type.Array(Type.String()), Type.Null()]),
    }),
    createdAt: Type.String(),
    lastUsedAt: Type.Union([Type.String(), Type.Null()]),
    expiresAt: Type.Union([Type.String(), Type.Null()]),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
    replacedBy: Type.Union([Type.String(), Type.Null()]),
    quarantinedUntil: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
/** A key as shown once, at creation: the only time the secret leaves the gateway. */
const IssuedKey = Type.Object(
  { apiKeyId: Type.String(), agentId: Type.String(), apiKey: Type.String() },
  { additionalProperties: false },
);

const keyView = (k: ApiKeyView) => ({
  ...k,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: iso(k.lastUsedAt),
  expiresAt: iso(k.expiresAt),
  revokedAt: iso(k.revokedAt),
  quarantinedUntil: iso(k.quarantinedUntil),
});

function scopesOf(scopes: { chains?: number[]; types?: string[] } | undefined): KeyScopes {
  return { chains: scopes?.chains ?? null, types: scopes?.types ?? null };
}
/** A new key as the body describes it: label, scopes, and `expiresInDays` from now (none: it never expires). */
function newKeyOf(body: {
  label?: string;
  scopes?: { chains?: number[]; types?: string[] };
  expiresInDays?: number;
}): NewKey {
  return {
    label: body.label ?? null,
    scopes: scopesOf(body.scopes),
    expiresAt: body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : null,
  };
}

/** Logs an API key handed out (a new agent's first key, or another one): by whom, for which agent, which key. */
function logKeyCreated(log: EventLogger, userId: string, key: { agentId: string; apiKeyId: string }): void {
  logEvent(log, 'admin.api_key_created', { userId, agentId: key.agentId, apiKeyId: key.apiKeyId });
}

/**
 * /admin/agents and /admin/keys: agents are principals owned by an operator, bound to a signer key; their API keys
 * carry scopes and an expiry, are shown once, rotate with an overlap window and are revoked at once on every process
 * (the key is re-checked on every agent request).
 */
const adminAgents: FastifyPluginAsyncTypebox = async (app) => {
  const { agents } = app.services;

  app.get(
    '/admin/agents',
    {
      schema: {
        response: {
          200: ItemList(
            Type.Object({
              id: Type.String(),
              name: Type.String(),
              signerAddress: Type.String(),
              ownerUserId: Type.Union([Type.String(), Type.Null()]),
              disabled: Type.Boolean(),
              createdAt: Type.String(),
              keys: Type.Array(KeyView),
            }),
          ),
          '4xx': ErrorBody,
        },
      },
    },
    async () => ({
      items: (await agents.list()).map((a) => ({
        ...a,
        createdAt: a.createdAt.toISOString(),
        keys: a.keys.map(keyView),
      })),
    }),
  );

  app.post(
    '/admin/agents',
    {
      schema: {
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }),
            signerAddress: Type.String({ maxLength: 64 }),
            ...NewKeyBody.properties, // and its first key
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 201: IssuedKey }),
      },
    },
    async (request, reply) => {
      const { body } = request;
      const signerAddress = parseAddress('signerAddress', body.signerAddress);
      const user = me(request);
      const created = await agents.create(user, { name: body.name, signerAddress, ...newKeyOf(body) });
      logKeyCreated(request.log, user.userId, created);
      return reply.status(201).send({ apiKeyId: created.apiKeyId, agentId: created.agentId, apiKey: created.apiKey });
    },
  );

  app.post(
    '/admin/agents/:id/keys',
    {
      schema: { params: IdParams, body: NewKeyBody, response: { 201: IssuedKey, '4xx': ErrorBody } },
    },
    async (request, reply) => {
      const user = me(request);
      const issued = await agents.issueKey(user, request.params.id, newKeyOf(request.body));
      logKeyCreated(request.log, user.userId, issued);
      return reply.status(201).send(issued);
    },
  );

  app.post(
    '/admin/keys/:id/rotate',
    {
      schema: {
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            { overlapSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400 })) },
            { additionalProperties: false },
          ),
        ),
        response: { 201: IssuedKey, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const user = me(request);
      const overlapSeconds = request.body?.overlapSeconds ?? 86_400;
      const next = await agents.rotateKey(user, request.params.id, overlapSeconds);
      logEvent(request.log, 'admin.api_key_rotated', {
        userId: user.userId,
        apiKeyId: request.params.id,
        newApiKeyId: next.apiKeyId,
        overlapSeconds,
      });
      return reply.status(201).send(next);
    },
  );

  // Scopes as a whole: an absent list means any (the same shape a new key takes).
  app.put(
    '/admin/keys/:id/scopes',
    {
      schema: { params: IdParams, body: ScopesBody, response: { 200: KeyView, '4xx': ErrorBody } },
    },
    async (request) => keyView(await agents.setScopes(me(request), request.params.id, scopesOf(request.body))),
  );

  app.post(
    '/admin/keys/:id/revoke',
    {
      schema: { params: IdParams, response: { 200: KeyView, '4xx': ErrorBody } },
    },
    async (request) => {
      const user = me(request);
      const revoked = await agents.revokeKey(user, request.params.id);
      logEvent(request.log, 'admin.api_key_revoked', { userId: user.userId, apiKeyId: request.params.id });
      return keyView(revoked);
    },
  );

  app.post(
    '/admin/keys/:id/quarantine/release',
    {
      schema: {
        params: IdParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
        response: withErrors({ 200: AnyJson }),
      },
    },
    async (request) => {
      // Lift an input-hygiene quarantine early (docs/intent-hygiene.md); the key's next hits count from zero.
      const user = me(request);
      const released = await agents.releaseQuarantine(user, request.params.id, request.body.reason);
      logEvent(request.log, 'admin.quarantine_lifted', { userId: user.userId, apiKeyId: released.apiKeyId });
      return { apiKeyId: released.apiKeyId, released: true };
    },
  );

  app.post(
    '/admin/agents/:id/disable',
    {
      schema: { params: IdParams, response: { 204: NoContent, '4xx': ErrorBody } },
    },
    async (request, reply) => {
      await agents.disable(me(request), request.params.id);
      return reply.status(204).send();
    },
  );

  app.get(
    '/admin/signer/keys',
    {
      schema: {
        response: withErrors({
          200: ItemList(
            Type.Object({
              address: Type.String(),
              backend: Type.String(),
              state: Type.String(),
              label: Type.Union([Type.String(), Type.Null()]),
              rotatedTo: Type.Union([Type.String(), Type.Null()]),
              usage: Type.Record(Type.String(), Type.Union([Type.Integer(), Type.String(), Type.Null()])),
              spentLastDay: Type.String(),
              agents: Type.Array(Type.String()),
            }),
          ),
        }),
      },
    },
    async () => {
      // Addresses and metadata only: the gateway never sees key material.
      const keys = await agents.signerKeys();
      return {
        items: keys.map((k) => ({
          address: k.address,
          backend: k.backend,
          state: k.state,
          label: k.label,
          rotatedTo: k.rotatedTo,
          usage: k.usage,
          spentLastDay: k.spentLastDay,
          agents: k.agents,
        })),
      };
    },
  );

  app.post(
    '/admin/agents/:id/signer',
    {
      schema: {
        params: IdParams,
        body: Type.Object({ signerAddress: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: withErrors({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      const signerAddress = parseAddress('signerAddress', request.body.signerAddress);
      await agents.assignSigner(me(request), request.params.id, signerAddress);
      return reply.status(204).send();
    },
  );

  app.get(
    '/admin/keys/age-report',
    {
      schema: {
        response: {
          200: ItemList(
            Type.Object({
              id: Type.String(),
              keyId: Type.String(),
              agentId: Type.String(),
              agentName: Type.String(),
              ageDays: Type.Integer(),
              status: Type.String(),
            }),
          ),
          '4xx': ErrorBody,
        },
      },
    },
    async () => ({ items: await agents.keyAgeReport() }),
  );
};
export default adminAgents;
