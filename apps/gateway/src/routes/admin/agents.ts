import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { Clawd402Error, ErrorBody, parseAddress } from '@clawd402/protocol';
import { withTransaction } from '../../db/pool.ts';
import {
  createAgentWithKey,
  disableAgent,
  findApiKeyById,
  issueApiKey,
  keyAgeReport,
  listAgents,
  revokeApiKey,
  rotateApiKey,
  type ApiKeyView,
  type KeyScopes,
} from '../../repositories/agents-repository.ts';
import { appendAudit } from '../../repositories/audit-repository.ts';
import { releaseQuarantine } from '../../repositories/key-quarantine-repository.ts';
import { me } from './users.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const INTENT_TYPES = ['transfer', 'contract_call', 'swap', 'typed_data', 'message', 'authorization'] as const;

const ScopesBody = Type.Object(
  {
    chains: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 64 })),
    types: Type.Optional(Type.Array(Type.Union(INTENT_TYPES.map((t) => Type.Literal(t))), { minItems: 1 })),
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
    scopes: Type.Object({ chains: Type.Union([Type.Array(Type.Integer()), Type.Null()]), types: Type.Union([Type.Array(Type.String()), Type.Null()]) }),
    createdAt: Type.String(),
    lastUsedAt: Type.Union([Type.String(), Type.Null()]),
    expiresAt: Type.Union([Type.String(), Type.Null()]),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
    replacedBy: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
/** A key as shown once, at creation: the only time the secret leaves the gateway. */
const IssuedKey = Type.Object({ apiKeyId: Type.String(), agentId: Type.String(), apiKey: Type.String() }, { additionalProperties: false });

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
const keyView = (k: ApiKeyView) => ({ ...k, createdAt: k.createdAt.toISOString(), lastUsedAt: iso(k.lastUsedAt), expiresAt: iso(k.expiresAt), revokedAt: iso(k.revokedAt) });

function scopesOf(body: { scopes?: { chains?: number[]; types?: string[] } }): KeyScopes {
  return { chains: body.scopes?.chains ?? null, types: body.scopes?.types ?? null };
}
function expiryOf(body: { expiresInDays?: number }): Date | null {
  return body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : null;
}

/**
 * /admin/agents and /admin/keys: agents are principals owned by an operator, bound to a signer key; their API keys
 * carry scopes and an expiry, are shown once, rotate with an overlap window and are revoked at once on every process
 * (the key is re-checked on every agent request).
 */
const adminAgents: FastifyPluginAsync = async (app) => {
  const { pool, signer } = app.services;

  async function key(id: string): Promise<ApiKeyView> {
    const found = UUID.test(id) ? await findApiKeyById(pool, id) : null;
    if (!found) throw new Clawd402Error('not_found', 'No such API key.');
    return found;
  }

  app.get(
    '/admin/agents',
    {
      config: { permission: 'agents:read' },
      schema: {
        response: {
          200: Type.Object({
            items: Type.Array(
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
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async () => ({
      items: (await listAgents(pool)).map((a) => ({ ...a, createdAt: a.createdAt.toISOString(), keys: a.keys.map(keyView) })),
    }),
  );

  app.post(
    '/admin/agents',
    {
      config: { permission: 'agents:write' },
      schema: {
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }),
            signerAddress: Type.String({ maxLength: 64 }),
            label: Type.Optional(Type.String({ maxLength: 128 })),
            scopes: Type.Optional(ScopesBody),
            expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: IssuedKey, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const actor = me(request);
      const body = request.body as { name: string; signerAddress: string; label?: string; scopes?: { chains?: number[]; types?: string[] }; expiresInDays?: number };
      const signerAddress = parseAddress('signerAddress', body.signerAddress);
      // Only a key the signer holds can be assigned (the gateway sees addresses, never keys).
      const held = (await signer.status()).keys.some((k) => k.address.toLowerCase() === signerAddress.toLowerCase());
      if (!held) throw new Clawd402Error('signer_key_unknown', undefined, { details: { signerAddress } });
      const exists = await pool.query('SELECT 1 FROM agents WHERE name = $1', [body.name]);
      if (exists.rowCount) throw new Clawd402Error('agent_name_taken');
      const created = await createAgentWithKey(pool, {
        name: body.name,
        signerAddress,
        ownerUserId: actor.userId,
        label: body.label ?? null,
        scopes: scopesOf(body),
        expiresAt: expiryOf(body),
      });
      await appendAudit(pool, {
        actor: `user:${actor.userId}`,
        action: 'agent.created',
        subject: `agent:${created.agentId}`,
        data: { name: body.name, signerAddress, apiKeyId: created.apiKeyId, scopes: scopesOf(body) },
      });
      return reply.status(201).send({ apiKeyId: created.apiKeyId, agentId: created.agentId, apiKey: created.apiKey });
    },
  );

  app.post(
    '/admin/agents/:id/keys',
    { config: { permission: 'agents:write' }, schema: { params: IdParams, body: NewKeyBody, response: { 201: IssuedKey, '4xx': ErrorBody } } },
    async (request, reply) => {
      const actor = me(request);
      const { id } = request.params as { id: string };
      const body = request.body as { label?: string; scopes?: { chains?: number[]; types?: string[] }; expiresInDays?: number };
      const agent = UUID.test(id) ? (await pool.query('SELECT 1 FROM agents WHERE id = $1 AND disabled_at IS NULL', [id])).rowCount : 0;
      if (!agent) throw new Clawd402Error('not_found', 'No such agent.');
      const issued = await withTransaction(pool, async (client) => {
        const k = await issueApiKey(client, id, { label: body.label ?? null, scopes: scopesOf(body), expiresAt: expiryOf(body) });
        await appendAudit(client, { actor: `user:${actor.userId}`, action: 'api_key.issued', subject: `agent:${id}`, data: { apiKeyId: k.apiKeyId, scopes: scopesOf(body) } });
        return k;
      });
      return reply.status(201).send({ apiKeyId: issued.apiKeyId, agentId: id, apiKey: issued.apiKey });
    },
  );

  app.post(
    '/admin/keys/:id/rotate',
    {
      config: { permission: 'agents:write' },
      schema: {
        params: IdParams,
        body: Type.Optional(Type.Object({ overlapSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400 })) }, { additionalProperties: false })),
        response: { 201: IssuedKey, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const actor = me(request);
      const old = await key((request.params as { id: string }).id);
      if (old.revokedAt || old.replacedBy) throw new Clawd402Error('forbidden', 'This key is revoked or already rotated.');
      const overlap = (request.body as { overlapSeconds?: number } | undefined)?.overlapSeconds ?? 86_400;
      const next = await withTransaction(pool, async (client) => {
        const k = await rotateApiKey(client, old, overlap);
        await appendAudit(client, { actor: `user:${actor.userId}`, action: 'api_key.rotated', subject: `agent:${old.agentId}`, data: { from: old.id, to: k.apiKeyId, overlapSeconds: overlap } });
        return k;
      });
      return reply.status(201).send({ apiKeyId: next.apiKeyId, agentId: old.agentId, apiKey: next.apiKey });
    },
  );

  app.post(
    '/admin/keys/:id/revoke',
    { config: { permission: 'agents:write' }, schema: { params: IdParams, response: { 200: KeyView, '4xx': ErrorBody } } },
    async (request) => {
      const actor = me(request);
      const target = await key((request.params as { id: string }).id);
      await withTransaction(pool, async (client) => {
        await revokeApiKey(client, target.id);
        await appendAudit(client, { actor: `user:${actor.userId}`, action: 'api_key.revoked', subject: `agent:${target.agentId}`, data: { apiKeyId: target.id } });
      });
      return keyView((await findApiKeyById(pool, target.id))!);
    },
  );

  app.post(
    '/admin/keys/:id/quarantine/release',
    {
      config: { permission: 'agents:write' },
      schema: {
        params: IdParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      // Lift an input-hygiene quarantine early (docs/intent-hygiene.md); the key's next hits count from zero.
      const actor = me(request);
      const target = await key((request.params as { id: string }).id);
      const { reason } = request.body as { reason: string };
      const released = await withTransaction(pool, (client) => releaseQuarantine(client, target.id, `user:${actor.userId}`, reason));
      if (!released) throw new Clawd402Error('not_found', 'The key is not in quarantine.');
      return { apiKeyId: target.id, released: true };
    },
  );

  app.post(
    '/admin/agents/:id/disable',
    { config: { permission: 'agents:write' }, schema: { params: IdParams, response: { '4xx': ErrorBody } } },
    async (request, reply) => {
      const actor = me(request);
      const { id } = request.params as { id: string };
      const done = UUID.test(id) ? await withTransaction(pool, async (client) => {
        const ok = await disableAgent(client, id, `disabled by user:${actor.userId}`);
        if (ok) await appendAudit(client, { actor: `user:${actor.userId}`, action: 'agent.disabled', subject: `agent:${id}`, data: {} });
        return ok;
      }) : false;
      if (!done) throw new Clawd402Error('not_found', 'No such enabled agent.');
      return reply.status(204).send();
    },
  );

  app.get(
    '/admin/signer/keys',
    {
      config: { permission: 'agents:read' },
      schema: {
        response: {
          200: Type.Object({
            items: Type.Array(
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
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async () => {
      // Addresses and metadata only: the gateway never sees key material.
      const [listing, agents] = await Promise.all([signer.listKeys(), listAgents(pool)]);
      return {
        items: listing.keys.map((k) => ({
          address: k.address,
          backend: k.backend,
          state: k.state,
          label: k.label,
          rotatedTo: k.rotatedTo,
          usage: k.usage,
          spentLastDay: k.spentLastDay,
          agents: agents.filter((a) => a.signerAddress.toLowerCase() === k.address.toLowerCase()).map((a) => a.id),
        })),
      };
    },
  );

  app.post(
    '/admin/agents/:id/signer',
    {
      config: { permission: 'agents:write' },
      schema: {
        params: IdParams,
        body: Type.Object({ signerAddress: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const actor = me(request);
      const { id } = request.params as { id: string };
      const signerAddress = parseAddress('signerAddress', (request.body as { signerAddress: string }).signerAddress);
      // Only an active key the signer holds: a rotated-out key signs cancellations only.
      const held = (await signer.listKeys()).keys.find((k) => k.address.toLowerCase() === signerAddress.toLowerCase());
      if (!held || held.state !== 'active') throw new Clawd402Error('signer_key_unknown', 'The signer holds no active key with that address.', { details: { signerAddress } });
      const moved = UUID.test(id)
        ? await withTransaction(pool, async (client) => {
            const { rows } = await client.query<{ from: string }>(
              'UPDATE agents a SET signer_address = $2 FROM agents old WHERE a.id = $1 AND old.id = a.id RETURNING old.signer_address AS from',
              [id, signerAddress],
            );
            if (rows[0]) {
              await appendAudit(client, { actor: `user:${actor.userId}`, action: 'agent.key_assigned', subject: `agent:${id}`, data: { from: rows[0].from, to: signerAddress } });
            }
            return rows.length === 1;
          })
        : false;
      if (!moved) throw new Clawd402Error('not_found', 'No such agent.');
      return reply.status(204).send();
    },
  );

  app.get(
    '/admin/keys/age-report',
    {
      config: { permission: 'agents:read' },
      schema: {
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({ id: Type.String(), keyId: Type.String(), agentId: Type.String(), agentName: Type.String(), ageDays: Type.Integer(), status: Type.String() }),
            ),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async () => ({ items: await keyAgeReport(pool) }),
  );
};
export default adminAgents;
