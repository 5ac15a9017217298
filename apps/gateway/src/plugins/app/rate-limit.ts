import fp from 'fastify-plugin';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Clawd402Error, logEvent, type ApiErrorCode } from '@clawd402/protocol';
import { clientKey } from '../../security/client-address.ts';
import {
  MemoryBackend,
  RedisBackend,
  type BlockState,
  type CountResult,
  type RateLimitBackend,
} from './rate-limit-store.ts';

/**
 * Rate limits (docs/rate-limits.md), on @fastify/rate-limit with a store of our own (rate-limit-store.ts) because the
 * plugin's stores count fixed windows. Three limiters, each answering `429 rate_limited` with X-RateLimit-* headers
 * and Retry-After:
 *
 * - per client address (onRequest, before authentication): RATE_LIMIT_IP_PER_MIN over a sliding minute; IPv6 by /64,
 *   IPv4-mapped IPv6 as IPv4, X-Forwarded-For believed only from TRUSTED_PROXIES (client-address.ts);
 * - per principal (preHandler, after authentication): the agent's API key id or the user id, a token bucket of
 *   RATE_LIMIT_PRINCIPAL_BURST refilled at RATE_LIMIT_PRINCIPAL_PER_MIN; unauthenticated requests skip it;
 * - per route of a class (intents, auth, admin): RATE_LIMIT_<CLASS>_PER_MIN over a sliding minute, one bucket per
 *   matched route pattern and method class (read or write) per principal, or per address when unauthenticated.
 *   Reads of intents (waiting included) have their own windows, RATE_LIMIT_INTENT_READS_PER_MIN, and skip the
 *   principal's bucket: waiting never uses up the budget for sending.
 *
 * Progressive: only refusals of requests that ignored a Retry-After already told count as hits (rate-limit-store.ts
 * `ignoresRetryAfter`: on a connection already told, or on a fresh one 5 s into the run). A client (address or principal) with 10 such hits in 5 minutes is blocked for 5 minutes, 50
 * in 15 minutes for an hour with an alert; refusals while blocked ignore the block's Retry-After and count. A blocked client gets
 * `429 rate_limit_blocked`. Routes declaring `config.rateLimit: false` (/health) are exempt from all of it.
 *
 * Redis down or slow: every limiter fails open, with an error log (at most one per 10 s) and
 * `clawd402_rate_limit_store_errors_total`. Spend limits live in Postgres and still hold.
 */
export interface RateLimitPluginOptions {
  /** Epoch milliseconds; tests inject a clock to move time without sleeping. Default `Date.now`. */
  clock?: () => number;
}

export type RouteClass = 'intents' | 'auth' | 'admin';
export type MethodClass = 'read' | 'write';
type Scope = 'ip' | 'principal' | 'route';

const WINDOW_MS = 60_000;
const ERROR_LOG_INTERVAL_MS = 10_000;

/** The class a route pattern belongs to, or null for routes with no class limit. */
export function routeClassOf(pattern: string): RouteClass | null {
  if (
    pattern === '/v1/intents' ||
    pattern.startsWith('/v1/intents/') ||
    pattern === '/rpc' ||
    pattern.startsWith('/rpc/') ||
    pattern === '/mcp'
  )
    return 'intents';
  if (pattern.startsWith('/auth/')) return 'auth';
  if (pattern === '/admin' || pattern.startsWith('/admin/')) return 'admin';
  return null;
}

/** GET, HEAD and OPTIONS read; everything else writes. HEAD shares GET's bucket. */
export function methodClassOf(method: string): MethodClass {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 'read' : 'write';
}

/**
 * The path a variant imitates: no query or fragment, percent-decoded, lower-cased, `;` parameters, doubled slashes,
 * `.` and `..` segments and the trailing slash removed. Used only for requests the router did not match, so that
 * `/AUTH/TOKEN`, `//auth//token/` or `/auth%2Ftoken` are charged to `/auth/token`'s bucket.
 */
export function canonicalPath(url: string): string {
  let path = url.split(/[?#]/, 1)[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // malformed escapes: match on the raw text
  }
  const segments: string[] = [];
  for (const raw of path.toLowerCase().split('/')) {
    const segment = raw.split(';', 1)[0]!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

interface KnownRoute {
  pattern: string;
  methodClass: MethodClass;
  regex: RegExp;
  /** 0 static, 1 with parameters, 2 with a wildcard: the most specific route wins, as in the router. */
  specificity: number;
}

function patternRegex(pattern: string): RegExp {
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const source = pattern
    .toLowerCase()
    .split('/')
    .map((segment) => (segment.includes('*') ? '.*' : segment.includes(':') ? '[^/]*' : escape(segment)))
    .join('/');
  return new RegExp(`^${source.length > 1 ? source.replace(/\/$/, '') : source}$`);
}

interface RouteBucket {
  routeClass: RouteClass;
  methodClass: MethodClass;
  pattern: string;
}

/** Per-request state: the route bucket and the tightest limit seen so far (the one the headers report). */
interface RequestState {
  route: RouteBucket | null;
  /** When the request arrived (the limits' clock): a refusal asks whether it ignored a Retry-After told earlier. */
  arrivedAt: number;
  /** Its connection had been refused with a Retry-After still running when it arrived (see ToldRetry). */
  connectionTold: boolean;
  subject: string;
  tightest: { limit: number; remaining: number; resetSeconds: number } | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    rateLimitState: RequestState | null;
  }
}

type Limiter = (request: FastifyRequest) => Promise<
  | { isAllowed: true; key: string }
  | {
      isAllowed: false;
      key: string;
      max: number;
      remaining: number;
      ttl: number;
      ttlInSeconds: number;
      isExceeded: boolean;
    }
>;

function principalSubject(request: FastifyRequest): string | null {
  const principal = request.principal;
  if (!principal) return null;
  return principal.kind === 'agent' ? `key:${principal.apiKeyId}` : `user:${principal.userId}`;
}

/** Never more than the last four characters of a presented API key (only /auth/token carries one, in its body). */
function apiKeyLast4(request: FastifyRequest): string | undefined {
  const apiKey = (request.body as { apiKey?: unknown } | undefined)?.apiKey;
  return typeof apiKey === 'string' && apiKey.length >= 16 ? apiKey.slice(-4) : undefined;
}

export default fp(
  async (app, options: RateLimitPluginOptions) => {
    const { config, redis, alerts } = app.services;
    const clock = options.clock ?? Date.now;
    const backend: RateLimitBackend = redis
      ? new RedisBackend(redis, config.rateLimitRedisPrefix)
      : new MemoryBackend();
    const classLimits: Record<RouteClass, number> = {
      intents: config.rateLimitIntentsPerMin,
      auth: config.rateLimitAuthPerMin,
      admin: config.rateLimitAdminPerMin,
    };
    /** Reads of intents (GET /v1/intents*, streams and long-polls) have their own buckets: waiting never uses up the
     * budget for sending. */
    const intentRead = (route: RouteBucket | null): boolean =>
      route?.routeClass === 'intents' && route.methodClass === 'read';
    /** Per address, reads of intents count in a window of their own, at least as large as the address limit. */
    const ipMax = (request: FastifyRequest): number =>
      intentRead(request.rateLimitState!.route)
        ? Math.max(config.rateLimitIpPerMin, config.rateLimitIntentReadsPerMin)
        : config.rateLimitIpPerMin;

    /** The plugin's store interface over our backend: a sliding window, or a token bucket when `algorithm` says so. */
    class Store {
      readonly #bucketPerMin: number | null;
      constructor(params: { algorithm?: 'sliding' | 'bucket'; perMin?: number }) {
        this.#bucketPerMin = params.algorithm === 'bucket' ? (params.perMin ?? 60) : null;
      }
      incr(
        key: string,
        callback: (error: Error | null, result?: CountResult) => void,
        timeWindow: number,
        max: number,
      ): void {
        const now = clock();
        const result =
          this.#bucketPerMin === null
            ? backend.slidingWindow(key, now, timeWindow, max)
            : backend.tokenBucket(key, now, this.#bucketPerMin, max);
        result.then(
          (counted) => callback(null, counted),
          (error: Error) => callback(error),
        );
      }
      child(params: { algorithm?: 'sliding' | 'bucket'; perMin?: number }): Store {
        return new Store(params);
      }
    }
    // global: false — the limiters below run from our own hooks, which add principals, classes and blocks.
    // skipOnError: false — store errors reach `guard`, which fails open and counts them.
    await app.register(fastifyRateLimit, { global: false, store: Store as never, skipOnError: false });

    const limiter = (settings: Record<string, unknown>): Limiter => app.createRateLimit(settings);
    const ipLimiter = limiter({
      keyGenerator: (r: FastifyRequest) =>
        `${intentRead(r.rateLimitState!.route) ? 'ip-read' : 'ip'}:${clientKey(r.ip)}`,
      max: ipMax,
      timeWindow: WINDOW_MS,
    });
    const principalLimiter = limiter({
      keyGenerator: (r: FastifyRequest) => `principal:${principalSubject(r)}`,
      max: config.rateLimitPrincipalBurst,
      timeWindow: WINDOW_MS,
      algorithm: 'bucket',
      perMin: config.rateLimitPrincipalPerMin,
    });
    const routeLimiter = limiter({
      keyGenerator: (r: FastifyRequest) => {
        const { route, subject } = r.rateLimitState!;
        return `route:${route!.methodClass}:${route!.pattern}|${subject}`;
      },
      max: (r: FastifyRequest) =>
        intentRead(r.rateLimitState!.route)
          ? config.rateLimitIntentReadsPerMin
          : classLimits[r.rateLimitState!.route!.routeClass],
      timeWindow: WINDOW_MS,
    });

    // Routes the router knows, to charge an unmatched variant to the route it imitates.
    const known: KnownRoute[] = [];
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        const specificity = route.url.includes('*') ? 2 : route.url.includes(':') ? 1 : 0;
        known.push({
          pattern: route.url,
          methodClass: methodClassOf(method),
          regex: patternRegex(route.url),
          specificity,
        });
      }
      known.sort((a, b) => a.specificity - b.specificity);
    });
    const routeBucket = (request: FastifyRequest): RouteBucket | null => {
      const methodClass = methodClassOf(request.method);
      let pattern = request.routeOptions.url;
      if (pattern === undefined) {
        const path = canonicalPath(request.url);
        pattern = known.find((r) => r.methodClass === methodClass && r.regex.test(path))?.pattern;
      }
      const routeClass = pattern === undefined ? null : routeClassOf(pattern);
      return routeClass ? { routeClass, methodClass, pattern: pattern! } : null;
    };

    // Fail open: a store error lets the request through, logged (throttled) and counted.
    let lastErrorLog = -Infinity;
    let suppressed = 0;
    const guard = async <T>(operation: string, work: Promise<T>): Promise<T | null> => {
      try {
        return await work;
      } catch (error) {
        app.metrics.rateLimitStoreErrors.inc();
        const at = Date.now(); // real time: log throttling is not part of the limits' clock
        if (at - lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
          app.log.error(
            { err: { message: (error as Error)?.message }, operation, suppressed },
            'rate-limit store unavailable; rate limits fail open',
          );
          lastErrorLog = at;
          suppressed = 0;
        } else suppressed += 1;
        return null;
      }
    };

    const setHeaders = (reply: FastifyReply, limit: number, remaining: number, resetSeconds: number): void => {
      reply.header('x-ratelimit-limit', limit);
      reply.header('x-ratelimit-remaining', remaining);
      reply.header('x-ratelimit-reset', resetSeconds);
    };

    /** Report the tightest limit on the response: the one with the fewest requests left. */
    const note = (
      request: FastifyRequest,
      reply: FastifyReply,
      result: { max: number; remaining: number; ttlInSeconds: number },
    ): void => {
      const state = request.rateLimitState!;
      if (state.tightest && state.tightest.remaining <= result.remaining) return;
      state.tightest = { limit: result.max, remaining: result.remaining, resetSeconds: result.ttlInSeconds };
      setHeaders(reply, result.max, result.remaining, result.ttlInSeconds);
    };

    const eventFields = (request: FastifyRequest, scope: Scope) => {
      const principal = request.principal;
      return {
        scope,
        ip: request.ip,
        route: request.rateLimitState?.route?.pattern ?? request.routeOptions.url ?? '(unmatched)',
        method: request.method,
        ...(principal?.kind === 'agent' ? { agentId: principal.agentId, apiKeyId: principal.apiKeyId } : {}),
        ...(principal?.kind === 'user' ? { userId: principal.userId } : {}),
        ...(apiKeyLast4(request) ? { apiKeyLast4: apiKeyLast4(request) } : {}),
      };
    };

    /** Until when each connection was told to wait: a request on it before then ignores what it was told. */
    const toldConnections = new WeakMap<object, number>();

    /**
     * Refuse with 429. The refusal counts as a hit against `subject`, which may impose (or already be under) a block:
     * then the answer is `rate_limit_blocked` with Retry-After until the block ends.
     */
    const refuse = async (
      request: FastifyRequest,
      reply: FastifyReply,
      scope: Scope,
      subject: string,
      limit: { max: number; retryAfterMs: number },
      knownBlock: BlockState | null,
    ): Promise<never> => {
      const now = clock();
      const told = {
        arrivedAt: request.rateLimitState!.arrivedAt,
        retryAfterMs: Math.ceil(limit.retryAfterMs / 1000) * 1000,
        connectionTold: request.rateLimitState!.connectionTold,
      };
      const hit = await guard('hit', backend.recordHit(subject, now, told));
      if (hit?.escalated) {
        app.metrics.rateLimitBlocks.inc({ tier: hit.escalated });
        const until = new Date(hit.block!.until).toISOString();
        logEvent(request.log, 'auth.client_blocked', {
          ...eventFields(request, scope),
          subject,
          tier: hit.escalated,
          until,
          hits: hit.longHits,
        });
        if (hit.escalated === 'long') {
          await alerts
            .raise({
              kind: 'rate_limit_block',
              severity: 'medium',
              subject: `client:${subject}`,
              summary: `${subject} blocked until ${until} after ${hit.longHits} rate-limit hits (${scope})`,
              detail: {
                subject,
                scope,
                ip: request.ip,
                route: eventFields(request, scope).route,
                hits: hit.longHits,
                blockedUntil: until,
              },
            })
            .catch((error: unknown) =>
              request.log.error({ err: error }, 'could not record the rate-limit block alert'),
            );
        }
      }
      const block = hit?.block ?? knownBlock;
      const code: ApiErrorCode = block && block.until > now ? 'rate_limit_blocked' : 'rate_limited';
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil((code === 'rate_limit_blocked' ? block!.until - now : limit.retryAfterMs) / 1000),
      );
      // Not audited (the errors plugin audits 4xx refusals of POST /v1/intents): a flood must not become a flood of
      // hash-chained audit writes. The log line below and the metric record it instead.
      request.auditRefusal = undefined;
      setHeaders(reply, limit.max, 0, retryAfterSeconds);
      reply.header('retry-after', retryAfterSeconds);
      const connection = request.raw.socket;
      toldConnections.set(connection, Math.max(toldConnections.get(connection) ?? 0, now + retryAfterSeconds * 1000));
      app.metrics.rateLimitRefusals.inc({ scope, code });
      // `count`: the requests counted in the window with this one. Refused requests are not logged in the window, so a
      // refusal always finds it full: count = limit + 1. `hits`: this client's refusals in the last 15 minutes.
      const fields = {
        ...eventFields(request, scope),
        code,
        count: limit.max + 1,
        limit: limit.max,
        hits: hit?.longHits,
        retryAfter: retryAfterSeconds,
      };
      logEvent(request.log, 'auth.rate_limited', fields);
      throw new Clawd402Error(code, undefined, { details: { scope, retryAfter: retryAfterSeconds } });
    };

    type Outcome = Awaited<ReturnType<Limiter>> | null;
    const exceeded = (outcome: Outcome): outcome is Extract<NonNullable<Outcome>, { isAllowed: false }> =>
      outcome !== null && !outcome.isAllowed && outcome.isExceeded;
    const counted = (outcome: Outcome): outcome is Extract<NonNullable<Outcome>, { isAllowed: false }> =>
      outcome !== null && !outcome.isAllowed;

    app.decorateRequest('rateLimitState', null);

    // Per address, before authentication, body parsing or anything else that costs.
    app.addHook('onRequest', async (request, reply) => {
      if (request.routeOptions.config?.rateLimit === false) return;
      const subject = `ip:${clientKey(request.ip)}`;
      const now = clock();
      request.rateLimitState = {
        route: routeBucket(request),
        subject,
        tightest: null,
        arrivedAt: now,
        connectionTold: (toldConnections.get(request.raw.socket) ?? 0) > now,
      };
      const [block, outcome] = await Promise.all([
        guard('block', backend.block(subject, now)),
        guard('window', ipLimiter(request)),
      ]);
      const max = ipMax(request);
      if (block) await refuse(request, reply, 'ip', subject, { max, retryAfterMs: block.until - now }, block);
      if (exceeded(outcome)) await refuse(request, reply, 'ip', subject, { max, retryAfterMs: outcome.ttl }, null);
      if (counted(outcome)) note(request, reply, outcome);
    });

    // Per principal and per route, once authentication (a route-level onRequest hook) has named the principal. At
    // preValidation, so a request that fails its schema still counts; the body is parsed (a refused /auth/token is
    // logged with the last four characters of the key it carried). A body that is not even JSON counts by address only.
    app.addHook('preValidation', async (request, reply) => {
      const state = request.rateLimitState;
      if (!state) return; // exempt
      const principal = principalSubject(request);
      if (principal) state.subject = principal;
      state.route = routeBucket(request);
      const now = clock();
      // An agent reading its intents is held by the reads' route bucket, not by the principal's (write) bucket.
      const bucketed = principal !== null && !intentRead(state.route);
      const [block, byPrincipal, byRoute] = await Promise.all([
        principal ? guard('block', backend.block(principal, now)) : null,
        bucketed ? guard('bucket', principalLimiter(request)) : null,
        state.route ? guard('window', routeLimiter(request)) : null,
      ]);
      if (block) {
        const max = config.rateLimitPrincipalBurst;
        await refuse(request, reply, 'principal', principal!, { max, retryAfterMs: block.until - now }, block);
      }
      if (exceeded(byPrincipal)) {
        await refuse(
          request,
          reply,
          'principal',
          principal!,
          { max: byPrincipal.max, retryAfterMs: byPrincipal.ttl },
          null,
        );
      }
      if (exceeded(byRoute)) {
        await refuse(request, reply, 'route', state.subject, { max: byRoute.max, retryAfterMs: byRoute.ttl }, null);
      }
      if (counted(byPrincipal)) note(request, reply, byPrincipal);
      if (counted(byRoute)) note(request, reply, byRoute);
    });
  },
  { name: 'rate-limit', dependencies: ['metrics'] },
);
