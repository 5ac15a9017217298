import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';

/**
 * POST /auth/token: exchange an agent API key for a short-lived RS256 access token. The key is checked with
 * argon2id once per exchange; unknown key ids cost the same time as known ones; every failure is the same
 * `invalid_api_key` (the reason is logged, never the key).
 */
const token: FastifyPluginAsyncTypebox = async (app) => {
  const { auth } = app.services;
  app.post(
    '/auth/token',
    {
      schema: {
        body: Type.Object({ apiKey: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            { access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const issued = await auth.exchangeApiKey(
        request.body.apiKey,
        { ip: request.ip, userAgent: request.headers['user-agent'] },
        request.log,
      );
      return { access_token: issued.token, token_type: 'Bearer' as const, expires_in: issued.expiresIn };
    },
  );
};
export default token;
