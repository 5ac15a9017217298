import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Clawd402Error, logEvent } from '@clawd402/protocol';
import type { PauseScope } from '../../domain/halts.ts';
import { isUuid } from '../../lib/uuid.ts';
import type { KillSwitchRecord } from '../../services/killswitch-service.ts';
import { AnyJson, ChainIdText, IdParams, iso, withErrors } from '../schemas.ts';
import { me } from '../acting-user.ts';

const Totp = Type.Optional(Type.String({ maxLength: 16 }));
const EngageBody = Type.Object(
  {
    confirm: Type.String({ maxLength: 64 }),
    totp: Totp,
    reason: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);
const ReleaseBody = Type.Object(
  {
    confirm: Type.String({ maxLength: 64 }),
    totp: Totp,
    /** base64url Ed25519 signature over the signer's latch id by an owners' release key (docs/killswitch.md). */
    signerRelease: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
const PauseBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);
const ChainParams = Type.Object({ chainId: ChainIdText });

function killSwitchView(k: KillSwitchRecord) {
  return {
    engaged: k.engaged,
    engagedAt: iso(k.engagedAt),
    engagedBy: k.engagedBy,
    reason: k.reason,
    releaseVotes: k.releaseVotes,
    releasedAt: iso(k.releasedAt),
    releasedBy: k.releasedBy,
  };
}

/** An id that is not a UUID names nothing: `not_found`, like the other admin routes. */
function uuidScope(kind: 'agent' | 'key', id: string): PauseScope {
  if (!isUuid(id)) throw new Clawd402Error('not_found', `No such ${kind}.`);
  return `${kind}:${id.toLowerCase()}`;
}

/**
 * The kill switch and pauses (docs/killswitch.md). Engaging and releasing are owners' acts with a TOTP step-up and a
 * typed confirmation; pausing and resuming an agent, an API key or a chain are incident responses operators make.
 * Every change is audited with the acting user.
 */
const adminKillSwitch: FastifyPluginAsyncTypebox = async (app) => {
  const { killSwitch } = app.services;

  app.get(
    '/admin/killswitch',
    {
      schema: { response: withErrors({ 200: AnyJson }) },
    },
    async () => {
      const state = await killSwitch.status();
      return {
        killSwitch: killSwitchView(state.killSwitch),
        signer: state.signer,
        pauses: state.pauses.map((p) => ({
          scope: p.scope,
          pausedAt: p.pausedAt.toISOString(),
          pausedBy: p.pausedBy,
          reason: p.reason,
        })),
      };
    },
  );

  app.post(
    '/admin/killswitch',
    {
      schema: { body: EngageBody, response: withErrors({ 200: AnyJson }) },
    },
    async (request) => {
      const user = me(request);
      const result = await killSwitch.engage(user, request.body);
      logEvent(request.log, 'admin.killswitch_engaged', {
        userId: user.userId,
        signerLatched: result.signer?.latched ?? false,
      });
      return {
        killSwitch: killSwitchView(result.killSwitch),
        signer: result.signer,
        cancellations: result.cancellations,
      };
    },
  );

  app.post(
    '/admin/killswitch/release',
    {
      schema: { body: ReleaseBody, response: withErrors({ 200: AnyJson, 202: AnyJson }) },
    },
    async (request, reply) => {
      const user = me(request);
      const result = await killSwitch.release(user, request.body);
      logEvent(request.log, 'admin.killswitch_released', { userId: user.userId, released: result.released });
      return reply.status(result.released ? 200 : 202).send({
        released: result.released,
        votes: result.votes,
        required: result.required,
        killSwitch: killSwitchView(result.killSwitch),
      });
    },
  );

  const pauseRoutes = <P extends typeof IdParams | typeof ChainParams>(
    path: string,
    params: P,
    scopeOf: (params: Record<string, string>) => PauseScope,
  ): void => {
    app.post(
      `${path}/pause`,
      {
        schema: { params, body: PauseBody, response: withErrors({ 200: AnyJson }) },
      },
      async (request) => {
        const user = me(request);
        const scope = scopeOf(request.params as Record<string, string>);
        const paused = await killSwitch.pause(user, scope, request.body.reason);
        logEvent(request.log, 'admin.paused', { userId: user.userId, scope });
        return paused;
      },
    );
    app.post(
      `${path}/resume`,
      {
        schema: { params, response: withErrors({ 200: AnyJson }) },
      },
      async (request) => {
        const user = me(request);
        const scope = scopeOf(request.params as Record<string, string>);
        const resumed = await killSwitch.resume(user, scope);
        logEvent(request.log, 'admin.resumed', { userId: user.userId, scope });
        return resumed;
      },
    );
  };
  pauseRoutes('/admin/agents/:id', IdParams, (p) => uuidScope('agent', p.id!));
  pauseRoutes('/admin/keys/:id', IdParams, (p) => uuidScope('key', p.id!));
  pauseRoutes('/admin/chains/:chainId', ChainParams, (p) => `chain:${Number(p.chainId)}`);
};
export default adminKillSwitch;
