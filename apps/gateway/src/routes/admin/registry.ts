import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { Clawd402Error, ErrorBody, parseAddress } from '@clawd402/protocol';
import { withTransaction } from '../../db/pool.ts';
import { parseUsd } from '../../money/usd.ts';
import { deleteAsset, listAssets, upsertAsset, type PriceSource } from '../../repositories/assets-repository.ts';
import { addVerifiedContract, listVerifiedContracts, removeVerifiedContract } from '../../repositories/verified-contracts-repository.ts';
import { me } from './users.ts';

const AssetParams = Type.Object({ chainId: Type.String({ pattern: '^[1-9][0-9]{0,15}$' }), asset: Type.String({ maxLength: 64 }) });
const ContractParams = Type.Object({ chainId: Type.String({ pattern: '^[1-9][0-9]{0,15}$' }), address: Type.String({ maxLength: 64 }) });

const PriceSourceBody = Type.Union([
  Type.Object(
    { kind: Type.Literal('static'), usd: Type.String({ maxLength: 24 }), maxAgeSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])) },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal('chainlink'), aggregator: Type.String({ maxLength: 64 }), maxAgeSeconds: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }) },
    { additionalProperties: false },
  ),
]);
const AssetBody = Type.Object(
  { symbol: Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z0-9.$_-]+$' }), decimals: Type.Integer({ minimum: 0, maximum: 77 }), price: PriceSourceBody },
  { additionalProperties: false },
);

/**
 * /admin/assets and /admin/contracts: the per-chain asset registry (decimals and a price source per asset — every USD
 * figure comes from here) and the verified-contract registry behind `contract_verified`. Changes apply on every
 * gateway process within a second and are audited.
 */
const adminRegistry: FastifyPluginAsync = async (app) => {
  const { pool, chains, prices, verifiedContracts } = app.services;

  const chainOf = (raw: string): number => {
    const chainId = Number(raw);
    if (!chains.has(chainId)) throw new Clawd402Error('chain_not_configured', undefined, { details: { chainId } });
    return chainId;
  };

  app.get('/admin/assets', { config: { permission: 'registry:read' } }, async () => ({
    items: (await listAssets(pool)).map((a) => ({ ...a, updatedAt: a.updatedAt.toISOString() })),
  }));

  app.put(
    '/admin/assets/:chainId/:asset',
    { config: { permission: 'registry:write' }, schema: { params: AssetParams, body: AssetBody, response: { '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request) => {
      const params = request.params as { chainId: string; asset: string };
      const body = request.body as { symbol: string; decimals: number; price: { kind: 'static'; usd: string; maxAgeSeconds?: number | null } | { kind: 'chainlink'; aggregator: string; maxAgeSeconds: number } };
      const chainId = chainOf(params.chainId);
      const asset = params.asset === 'native' ? 'native' : parseAddress('asset', params.asset);
      let priceSource: PriceSource;
      if (body.price.kind === 'static') {
        const usd = parseUsd(body.price.usd);
        if (usd === null || usd === 0n) throw new Clawd402Error('invalid_amount', 'price.usd must be a positive USD amount with at most 6 decimals.', { details: { field: 'price.usd' } });
        priceSource = { kind: 'static', usd: body.price.usd, maxAgeSeconds: body.price.maxAgeSeconds ?? null };
      } else {
        priceSource = { kind: 'chainlink', aggregator: parseAddress('price.aggregator', body.price.aggregator), maxAgeSeconds: body.price.maxAgeSeconds };
      }
      if (asset === 'native' && body.decimals !== 18) {
        throw new Clawd402Error('invalid_request', 'The native coin of an EVM chain has 18 decimals.', { details: { field: 'decimals' } });
      }
      const entry = await withTransaction(pool, (client) =>
        upsertAsset(client, { chainId, asset, symbol: body.symbol, decimals: body.decimals, priceSource }, `user:${me(request).userId}`),
      );
      prices.invalidate();
      return { ...entry, updatedAt: entry.updatedAt.toISOString() };
    },
  );

  app.delete(
    '/admin/assets/:chainId/:asset',
    { config: { permission: 'registry:write' }, schema: { params: AssetParams, response: { '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request, reply) => {
      const params = request.params as { chainId: string; asset: string };
      const asset = params.asset === 'native' ? 'native' : parseAddress('asset', params.asset);
      const removed = await withTransaction(pool, (client) => deleteAsset(client, chainOf(params.chainId), asset, `user:${me(request).userId}`));
      if (!removed) throw new Clawd402Error('not_found', 'No such asset.');
      prices.invalidate();
      return reply.status(204).send();
    },
  );

  app.get('/admin/contracts', { config: { permission: 'registry:read' } }, async () => ({
    items: (await listVerifiedContracts(pool)).map((c) => ({ ...c, addedAt: c.addedAt.toISOString() })),
  }));

  app.put(
    '/admin/contracts/:chainId/:address',
    {
      config: { permission: 'registry:write' },
      schema: {
        params: ContractParams,
        body: Type.Object({ label: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const params = request.params as { chainId: string; address: string };
      const chainId = chainOf(params.chainId);
      const address = parseAddress('address', params.address);
      const { label } = request.body as { label: string };
      await withTransaction(pool, (client) => addVerifiedContract(client, { chainId, address, label }, `user:${me(request).userId}`));
      verifiedContracts.invalidate();
      return reply.status(204).send();
    },
  );

  app.delete(
    '/admin/contracts/:chainId/:address',
    { config: { permission: 'registry:write' }, schema: { params: ContractParams, response: { '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request, reply) => {
      const params = request.params as { chainId: string; address: string };
      const removed = await withTransaction(pool, (client) =>
        removeVerifiedContract(client, chainOf(params.chainId), parseAddress('address', params.address), `user:${me(request).userId}`),
      );
      if (!removed) throw new Clawd402Error('not_found', 'No such verified contract.');
      verifiedContracts.invalidate();
      return reply.status(204).send();
    },
  );
};
export default adminRegistry;
