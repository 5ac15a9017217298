import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { Clawd402Error } from '@clawd402/protocol';
import { findApiKey, touchApiKey } from '../../repositories/agents-repository.ts';
import { parseApiKey, verifySecret } from '../../security/api-keys.ts';

/**
 * POST /auth/token: exchange an agent API key for a short-lived RS256 access token. The key is checked with
 * argon2id once per exchange; unknown key ids cost the same time as known ones; every failure is the same
 * `invalid_api_key` (the reason is logged, never the key).
 */
const token: FastifyPluginAsync = async (app) => {
  app.post(
    '/auth/token',
    {
      config: { permission: 'public' },
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
      const { apiKey } = request.body as { apiKey: string };
      const parsed = parseApiKey(apiKey);
      const record = parsed ? await findApiKey(app.services.pool, parsed.keyId) : null;
      const valid = await verifySecret(record?.secretHash ?? null, parsed?.secret ?? 'x');
      if (!record || !valid || !record.usable) {
        request.log.info({ reason: !parsed ? 'malformed' : !record ? 'unknown key id' : !valid ? 'wrong secret' : 'revoked, expired or agent disabled', ip: request.ip }, 'api key refused');
        throw new Clawd402Error('invalid_api_key');
      }
      await touchApiKey(app.services.pool, record.id);
      const issued = await app.services.tokens.issueAgentToken(record.agentId, record.id);
      return { access_token: issued.token, token_type: 'Bearer' as const, expires_in: issued.expiresIn };
    },
  );
};
export default token;
