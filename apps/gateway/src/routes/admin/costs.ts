import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Clawd402Error } from '@clawd402/protocol';
import { formatUsd, parseUsd } from '../../domain/usd.ts';
import { BREAKER_COLOURS, type BreakerThresholds } from '../../money/breakers.ts';
import type { ScopeLimitsUpdate, ScopeRow } from '../../services/costs-service.ts';
import { AnyJson, iso, withErrors } from '../schemas.ts';
import { me } from '../acting-user.ts';
import { UUID_PATTERN } from '../../lib/uuid.ts';

/** `global`, `agent:<uuid>` or `key:<uuid>` (the API key's id). */
const ScopeName = Type.String({ pattern: `^(global|agent:${UUID_PATTERN}|key:${UUID_PATTERN})$`, maxLength: 64 });
const UsdOrNull = Type.Union([Type.String({ maxLength: 24 }), Type.Number({ minimum: 0 }), Type.Null()]);

const LimitsBody = Type.Object(
  {
    scope: ScopeName,
    dailyLimitUsd: Type.Optional(UsdOrNull),
    hourlyLimitUsd: Type.Optional(UsdOrNull),
    breaker: Type.Optional(
      Type.Object(
        {
          warningUsd: Type.Optional(UsdOrNull),
          softUsd: Type.Optional(UsdOrNull),
          hardUsd: Type.Optional(UsdOrNull),
          emergencyUsd: Type.Optional(UsdOrNull),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

function usdField(field: string, value: string | number | null | undefined): bigint | null | undefined {
  if (value === undefined || value === null) return value;
  const parsed = parseUsd(value);
  if (parsed === null)
    throw new Clawd402Error('invalid_amount', `${field} must be a non-negative USD amount with at most 6 decimals.`, {
      details: { field },
    });
  return parsed;
}

/** Breaker thresholds (the defaults or a scope's) as USD text. */
function thresholdsUsd(t: BreakerThresholds) {
  return {
    warningUsd: formatUsd(t.warning),
    softUsd: formatUsd(t.soft),
    hardUsd: formatUsd(t.hard),
    emergencyUsd: formatUsd(t.emergency),
  };
}

/** A scope's daily and hourly limits as USD text, null where it has none. */
function limitsUsd(scope: Pick<ScopeRow, 'limitDay' | 'limitHour'>) {
  return {
    dailyUsd: scope.limitDay === null ? null : formatUsd(scope.limitDay),
    hourlyUsd: scope.limitHour === null ? null : formatUsd(scope.limitHour),
  };
}

/**
 * /admin/costs: spend by scope (agent, API key, global), asset and chain against limits and breaker state; owners set
 * limits and reset breakers. Every change is audited with the acting user.
 */
const adminCosts: FastifyPluginAsyncTypebox = async (app) => {
  const { config, costs } = app.services;

  app.get(
    '/admin/costs',
    {
      schema: { response: withErrors({ 200: AnyJson }) },
    },
    async () => {
      const { scopes, byAsset } = await costs.overview();
      return {
        defaults: {
          breaker: thresholdsUsd(config.money.breaker),
          hardCapUsd: formatUsd(config.money.hardCapMicros),
          hardAllowlist: config.money.hardAllowlist,
        },
        scopes: scopes.map(({ scope, spend, thresholds, level }) => ({
          scope: scope.scope,
          spend: {
            dayUsd: formatUsd(spend.dayUsd),
            dayCount: spend.dayCount,
            hourUsd: formatUsd(spend.hourUsd),
            hourCount: spend.hourCount,
            dayFreesAt: iso(spend.dayFreesAt),
          },
          limits: limitsUsd(scope),
          breaker: {
            level,
            state: BREAKER_COLOURS[level],
            latchedAt: iso(scope.latchedAt),
            resetAt: iso(scope.resetAt),
            spendUsd: formatUsd(spend.breakerUsd),
            thresholds: thresholdsUsd(thresholds),
          },
        })),
        byAsset: byAsset.map((a) => ({ chainId: a.chainId, asset: a.asset, dayUsd: formatUsd(a.usd), count: a.count })),
      };
    },
  );

  app.put(
    '/admin/costs/limits',
    {
      schema: { body: LimitsBody, response: withErrors({ 200: AnyJson }) },
    },
    async (request) => {
      const { body } = request;
      const update: ScopeLimitsUpdate = {};
      const day = usdField('dailyLimitUsd', body.dailyLimitUsd);
      const hour = usdField('hourlyLimitUsd', body.hourlyLimitUsd);
      if (day !== undefined) update.limitDay = day;
      if (hour !== undefined) update.limitHour = hour;
      if (body.breaker) {
        update.breaker = {};
        for (const [key, field] of [
          ['warning', 'warningUsd'],
          ['soft', 'softUsd'],
          ['hard', 'hardUsd'],
          ['emergency', 'emergencyUsd'],
        ] as const) {
          const value = usdField(`breaker.${field}`, body.breaker[field]);
          if (value !== undefined) update.breaker[key] = value;
        }
      }
      const row = await costs.setLimits(me(request), body.scope, update);
      return { scope: row.scope, limits: limitsUsd(row), breaker: thresholdsUsd(costs.thresholds(row)) };
    },
  );

  app.post(
    '/admin/costs/reset',
    {
      schema: {
        body: Type.Object(
          { scope: ScopeName, reason: Type.String({ minLength: 1, maxLength: 500 }) },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: AnyJson }),
      },
    },
    async (request) => {
      const { body } = request;
      const row = await costs.resetBreaker(me(request), body.scope, body.reason);
      return {
        scope: row.scope,
        breaker: { level: row.level, state: BREAKER_COLOURS[row.level], resetAt: iso(row.resetAt) },
      };
    },
  );
};
export default adminCosts;
