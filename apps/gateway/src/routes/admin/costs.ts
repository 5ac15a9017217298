import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { Clawd402Error, ErrorBody } from '@clawd402/protocol';
import { withTransaction } from '../../db/pool.ts';
import { BREAKER_COLOURS, breakerLevel, thresholdsOf } from '../../money/breakers.ts';
import { formatUsd, parseUsd } from '../../money/usd.ts';
import {
  GLOBAL_SCOPE,
  listScopes,
  resetBreaker,
  spendByAsset,
  updateScopeLimits,
  type ScopeLimitsUpdate,
} from '../../repositories/spend-repository.ts';
import { me } from './users.ts';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** `global`, `agent:<uuid>` or `key:<uuid>` (the API key's id). */
const ScopeName = Type.String({ pattern: `^(global|agent:${UUID}|key:${UUID})$`, maxLength: 64 });
const UsdOrNull = Type.Union([Type.String({ maxLength: 24 }), Type.Number({ minimum: 0 }), Type.Null()]);

const LimitsBody = Type.Object(
  {
    scope: ScopeName,
    dailyLimitUsd: Type.Optional(UsdOrNull),
    hourlyLimitUsd: Type.Optional(UsdOrNull),
    breaker: Type.Optional(
      Type.Object(
        { warningUsd: Type.Optional(UsdOrNull), softUsd: Type.Optional(UsdOrNull), hardUsd: Type.Optional(UsdOrNull), emergencyUsd: Type.Optional(UsdOrNull) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

function usdField(field: string, value: string | number | null | undefined): bigint | null | undefined {
  if (value === undefined || value === null) return value;
  const parsed = parseUsd(value);
  if (parsed === null) throw new Clawd402Error('invalid_amount', `${field} must be a non-negative USD amount with at most 6 decimals.`, { details: { field } });
  return parsed;
}

/**
 * /admin/costs: spend by scope (agent, API key, global), asset and chain against limits and breaker state; owners set
 * limits and reset breakers. Every change is audited with the acting user.
 */
const adminCosts: FastifyPluginAsync = async (app) => {
  const { pool, config } = app.services;

  app.get(
    '/admin/costs',
    { config: { permission: 'costs:read' }, schema: { response: { '4xx': ErrorBody, '5xx': ErrorBody } } },
    async () => {
      const [scopes, assets] = await Promise.all([listScopes(pool), spendByAsset(pool)]);
      return {
        defaults: {
          breaker: {
            warningUsd: formatUsd(config.money.breaker.warning),
            softUsd: formatUsd(config.money.breaker.soft),
            hardUsd: formatUsd(config.money.breaker.hard),
            emergencyUsd: formatUsd(config.money.breaker.emergency),
          },
          hardCapUsd: formatUsd(config.money.hardCapMicros),
          hardAllowlist: config.money.hardAllowlist,
        },
        scopes: scopes.map(({ scope, spend }) => {
          const thresholds = thresholdsOf(scope, config.money.breaker);
          const level = breakerLevel(spend.breakerUsd, thresholds, scope.latchedAt !== null);
          return {
            scope: scope.scope,
            spend: {
              dayUsd: formatUsd(spend.dayUsd),
              dayCount: spend.dayCount,
              hourUsd: formatUsd(spend.hourUsd),
              hourCount: spend.hourCount,
              dayFreesAt: spend.dayFreesAt?.toISOString() ?? null,
            },
            limits: {
              dailyUsd: scope.limitDay === null ? null : formatUsd(scope.limitDay),
              hourlyUsd: scope.limitHour === null ? null : formatUsd(scope.limitHour),
            },
            breaker: {
              level,
              state: BREAKER_COLOURS[level],
              latchedAt: scope.latchedAt?.toISOString() ?? null,
              resetAt: scope.resetAt?.toISOString() ?? null,
              spendUsd: formatUsd(spend.breakerUsd),
              thresholds: {
                warningUsd: formatUsd(thresholds.warning),
                softUsd: formatUsd(thresholds.soft),
                hardUsd: formatUsd(thresholds.hard),
                emergencyUsd: formatUsd(thresholds.emergency),
              },
            },
          };
        }),
        byAsset: assets.map((a) => ({ chainId: a.chainId, asset: a.asset, dayUsd: formatUsd(a.usd), count: a.count })),
      };
    },
  );

  app.put(
    '/admin/costs/limits',
    { config: { permission: 'costs:limits' }, schema: { body: LimitsBody, response: { '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request) => {
      const body = request.body as {
        scope: string;
        dailyLimitUsd?: string | number | null;
        hourlyLimitUsd?: string | number | null;
        breaker?: { warningUsd?: string | number | null; softUsd?: string | number | null; hardUsd?: string | number | null; emergencyUsd?: string | number | null };
      };
      const update: ScopeLimitsUpdate = {};
      const day = usdField('dailyLimitUsd', body.dailyLimitUsd);
      const hour = usdField('hourlyLimitUsd', body.hourlyLimitUsd);
      if (day !== undefined) update.limitDay = day;
      if (hour !== undefined) update.limitHour = hour;
      if (body.breaker) {
        update.breaker = {};
        for (const [key, field] of [['warning', 'warningUsd'], ['soft', 'softUsd'], ['hard', 'hardUsd'], ['emergency', 'emergencyUsd']] as const) {
          const value = usdField(`breaker.${field}`, body.breaker[field]);
          if (value !== undefined) update.breaker[key] = value;
        }
      }
      const row = await withTransaction(pool, async (client) => {
        const updated = await updateScopeLimits(client, body.scope, update, `user:${me(request).userId}`);
        const t = thresholdsOf(updated, config.money.breaker);
        if (!(t.warning <= t.soft && t.soft <= t.hard && t.hard <= t.emergency)) {
          // Rolls the change back: a breaker whose levels do not rise would skip states.
          throw new Clawd402Error('invalid_request', 'Breaker thresholds must rise: warning ≤ soft ≤ hard ≤ emergency (unset ones use the defaults).', { details: { field: 'breaker' } });
        }
        return updated;
      });
      const t = thresholdsOf(row, config.money.breaker);
      return {
        scope: row.scope,
        limits: { dailyUsd: row.limitDay === null ? null : formatUsd(row.limitDay), hourlyUsd: row.limitHour === null ? null : formatUsd(row.limitHour) },
        breaker: { warningUsd: formatUsd(t.warning), softUsd: formatUsd(t.soft), hardUsd: formatUsd(t.hard), emergencyUsd: formatUsd(t.emergency) },
      };
    },
  );

  app.post(
    '/admin/costs/reset',
    {
      config: { permission: 'costs:reset' },
      schema: {
        body: Type.Object({ scope: ScopeName, reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const body = request.body as { scope: string; reason: string };
      const row = await withTransaction(pool, (client) => resetBreaker(client, body.scope, `user:${me(request).userId}`, body.reason));
      if (!row) throw new Clawd402Error('not_found', body.scope === GLOBAL_SCOPE ? 'No global scope.' : 'No spend has been recorded for that scope.');
      return { scope: row.scope, breaker: { level: row.level, state: BREAKER_COLOURS[row.level], resetAt: row.resetAt?.toISOString() ?? null } };
    },
  );
};
export default adminCosts;
