import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody } from '@clawd402/protocol';
import { toApiError } from '../plugins/app/errors.ts';
import { RPC_BODY_LIMIT } from '../services/json-rpc-service.ts';
import { withErrors } from './schemas.ts';

const RpcError = Type.Object(
  { code: Type.Integer(), message: Type.String(), data: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);
const RpcResponse = Type.Object(
  {
    jsonrpc: Type.Literal('2.0'),
    id: Type.Union([Type.String(), Type.Number(), Type.Null()]),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(RpcError),
  },
  { additionalProperties: false },
);
const RpcAnswer = Type.Union([RpcResponse, Type.Array(RpcResponse)]);
/** What the body parser refuses answers as a JSON-RPC parse error (-32700), HTTP 400. */
const PARSE_CODES = new Set(['invalid_json', 'json_duplicate_key', 'json_too_deep']);

/**
 * POST /rpc and /rpc/:chainId — Ethereum JSON-RPC 2.0 for agents (docs/json-rpc.md). Authenticated like /v1/intents
 * (bearer token, the intents rate-limit class, the key's scopes); every JSON-RPC outcome answers HTTP 200 with the
 * element's result or error. Authentication, rate limits and an unconfigured chain answer the HTTP error body of
 * docs/errors.md; a body that is not JSON answers a JSON-RPC parse error.
 */
const rpc: FastifyPluginAsyncTypebox = async (app) => {
  const { jsonRpc } = app.services;
  app.addHook('onRequest', app.authenticate);
  app.setErrorHandler(async (error, _request, reply) => {
    const apiError = toApiError(error);
    if (!PARSE_CODES.has(apiError.code)) throw error; // the app's error handler answers
    return reply.status(400).send({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: apiError.message, data: { code: apiError.code } },
    });
  });

  const schema = {
    body: Type.Unknown(),
    response: withErrors({ 200: RpcAnswer, 400: Type.Union([RpcResponse, ErrorBody]) }),
  };
  app.post('/rpc', { bodyLimit: RPC_BODY_LIMIT, schema }, async (request) =>
    jsonRpc.handle(request.agent!, jsonRpc.chainFor(undefined), request.body, request.id),
  );
  app.post(
    '/rpc/:chainId',
    {
      bodyLimit: RPC_BODY_LIMIT,
      schema: { ...schema, params: Type.Object({ chainId: Type.String({ maxLength: 20 }) }) },
    },
    async (request) =>
      jsonRpc.handle(request.agent!, jsonRpc.chainFor(request.params.chainId), request.body, request.id),
  );
};
export default rpc;
