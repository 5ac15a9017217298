import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';

/** One published verification key: RSA public members only, never a private one (the schema drops anything else). */
const Jwk = Type.Object(
  {
    kty: Type.Literal('RSA'),
    n: Type.String(),
    e: Type.String(),
    kid: Type.String(),
    alg: Type.Literal('RS256'),
    use: Type.Literal('sig'),
  },
  { additionalProperties: false },
);

/**
 * GET /.well-known/jwks.json: the public keys access tokens are verified with (the current key, then any previous keys
 * still accepted during a rotation), so other services can verify gateway tokens. Public and cacheable for five
 * minutes; every other route stays `no-store`. It reads only the in-memory key list.
 */
const wellKnown: FastifyPluginAsync = async (app) => {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: { response: { 200: Type.Object({ keys: Type.Array(Jwk) }, { additionalProperties: false }) } },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return app.services.tokens.jwks();
    },
  );
};
export default wellKnown;
