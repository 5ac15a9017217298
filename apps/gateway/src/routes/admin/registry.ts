import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AnyJson, ChainIdText, NoContent, withErrors } from '../schemas.ts';
import { me } from '../acting-user.ts';

const AssetParams = Type.Object({
  chainId: ChainIdText,
  asset: Type.String({ maxLength: 64 }),
});
const ContractParams = Type.Object({
  chainId: ChainIdText,
  address: Type.String({ maxLength: 64 }),
});

const PriceSourceBody = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('static'),
      usd: Type.String({ maxLength: 24 }),
      maxAgeSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('chainlink'),
      aggregator: Type.String({ maxLength: 64 }),
      maxAgeSeconds: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }),
    },
    { additionalProperties: false },
  ),
]);
const AssetBody = Type.Object(
  {
    symbol: Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z0-9.$_-]+$' }),
    decimals: Type.Integer({ minimum: 0, maximum: 77 }),
    price: PriceSourceBody,
  },
  { additionalProperties: false },
);

/**
 * /admin/assets and /admin/contracts: the per-chain asset registry (decimals and a price source per asset — every USD
 * figure comes from here) and the verified-contract registry behind `contract_verified`. Changes apply on every
 * gateway process within a second and are audited.
 */
const adminRegistry: FastifyPluginAsyncTypebox = async (app) => {
  const { registry } = app.services;

  app.get('/admin/assets', async () => ({
    items: (await registry.listAssets()).map((a) => ({ ...a, updatedAt: a.updatedAt.toISOString() })),
  }));

  app.put(
    '/admin/assets/:chainId/:asset',
    {
      schema: { params: AssetParams, body: AssetBody, response: withErrors({ 200: AnyJson }) },
    },
    async (request) => {
      const { params, body } = request;
      const entry = await registry.putAsset(me(request), {
        chainId: params.chainId,
        asset: params.asset,
        symbol: body.symbol,
        decimals: body.decimals,
        price: body.price,
      });
      return { ...entry, updatedAt: entry.updatedAt.toISOString() };
    },
  );

  app.delete(
    '/admin/assets/:chainId/:asset',
    {
      schema: { params: AssetParams, response: withErrors({ 204: NoContent }) },
    },
    async (request, reply) => {
      await registry.deleteAsset(me(request), request.params.chainId, request.params.asset);
      return reply.status(204).send();
    },
  );

  app.get('/admin/contracts', async () => ({
    items: (await registry.listContracts()).map((c) => ({ ...c, addedAt: c.addedAt.toISOString() })),
  }));

  app.put(
    '/admin/contracts/:chainId/:address',
    {
      schema: {
        params: ContractParams,
        body: Type.Object({ label: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
        response: withErrors({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      await registry.addContract(me(request), request.params.chainId, request.params.address, request.body.label);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/admin/contracts/:chainId/:address',
    {
      schema: { params: ContractParams, response: withErrors({ 204: NoContent }) },
    },
    async (request, reply) => {
      await registry.removeContract(me(request), request.params.chainId, request.params.address);
      return reply.status(204).send();
    },
  );
};
export default adminRegistry;
