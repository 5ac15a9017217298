import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Storage for the gateway's rate limits: a sliding-window log, a GCRA token bucket, and the progressive blocks.
 * Two implementations with the same semantics: Redis (one Lua script per operation, so replicas share counts and
 * every check-and-update is atomic) and in-process (the embedded default, one process only).
 *
 * Time is always passed in (`now`, milliseconds since the epoch) rather than read here or from Redis's clock, so tests
 * move time with an injected clock and replicas agree as far as their clocks do (NTP). Redis key expiry only collects
 * garbage; whether a window entry, a token or a block still counts is decided against `now`.
 */

/** What @fastify/rate-limit expects from a store: the count including this request, and milliseconds to the reset. */
export interface CountResult {
  /** Requests counted, including this one; above the limit means refused. */
  current: number;
  /** Milliseconds until a slot frees (sliding window) or the bucket is full again (token bucket); when refused, until
   * the next request would be admitted. */
  ttl: number;
}

export type BlockTier = 'short' | 'long';

export interface BlockState {
  /** Epoch milliseconds the block ends. */
  until: number;
  tier: BlockTier;
}

export interface HitResult {
  /** The block in force after this hit, if any. */
  block: BlockState | null;
  /** Set when this very hit imposed a block (exactly once per block, across replicas). */
  escalated: BlockTier | null;
  /** Hits counted in the short and the long window (0 when a long block was already in force). */
  shortHits: number;
  longHits: number;
}

/** The progressive rule: 10 limit hits in 5 minutes block for 5 minutes; 50 in 15 minutes block for an hour. */
export const PROGRESSIVE = Object.freeze({
  shortWindowMs: 5 * 60_000,
  shortHits: 10,
  shortBlockMs: 5 * 60_000,
  longWindowMs: 15 * 60_000,
  longHits: 50,
  longBlockMs: 60 * 60_000,
});

export interface RateLimitBackend {
  /** Sliding-window log: admit when fewer than `max` requests were admitted in the last `windowMs`. Refused requests
   * are not logged, so a key holds at most `max` entries. */
  slidingWindow(key: string, now: number, windowMs: number, max: number): Promise<CountResult>;
  /** GCRA token bucket: `burst` tokens, refilled at `perMin` a minute. `current` is `burst` minus the tokens left. */
  tokenBucket(key: string, now: number, perMin: number, burst: number): Promise<CountResult>;
  /** The block in force on `subject`, or null. */
  block(subject: string, now: number): Promise<BlockState | null>;
  /** A 429 for `subject`: remember the Retry-After it tells, and count it as a hit (imposing a block when the
   * progressive rule says so) only if the request ignored a Retry-After told earlier (see {@link ignoresRetryAfter}).
   * While an hour block is in force nothing more is counted (there is nothing left to escalate to). */
  recordHit(subject: string, now: number, told: ToldRetry): Promise<HitResult>;
}

/** What a refusal tells the client, and when (and how) the refused request arrived. */
export interface ToldRetry {
  /** When the request arrived (before authentication and the other limiters), epoch ms. */
  arrivedAt: number;
  /** The Retry-After this refusal tells, in ms. */
  retryAfterMs: number;
  /**
   * The request came on a connection that had already been refused with a Retry-After still running when it arrived.
   * HTTP/1.1 sends a request on a kept-alive connection after the previous answer, so the client had that answer.
   */
  connectionTold: boolean;
}

/**
 * A request on a connection of its own (not one already told a Retry-After) counts as ignoring a Retry-After only if
 * it arrives this long after the run of refusals began: before that it may have been sent before the client could
 * read any refusal (one of a concurrent burst, arriving late on a loaded machine). A client that keeps opening fresh
 * connections through a Retry-After is counted after this long; one that reuses its connection, at once.
 */
export const FRESH_CONNECTION_GRACE_MS = 5_000;

/**
 * Whether a request ignored a Retry-After: a run of refusals began at `issued` and told the client to wait until
 * `deadline`; the request arrived before the deadline, on a connection already told, or past the fresh-connection grace.
 */
export function ignoresRetryAfter(
  told: Pick<ToldRetry, 'arrivedAt' | 'connectionTold'>,
  issued: number,
  deadline: number,
): boolean {
  if (told.arrivedAt >= deadline) return false;
  return told.connectionTold || told.arrivedAt >= issued + FRESH_CONNECTION_GRACE_MS;
}

let sequence = 0;
const processTag = randomBytes(4).toString('hex');
/** A member unique across processes, for sorted-set logs. */
function uniqueMember(now: number): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${now}:${processTag}:${sequence}`;
}

function parseBlock(value: string | null, now: number): BlockState | null {
  if (!value) return null;
  const [until, tier] = value.split(':');
  const end = Number(until);
  if (!Number.isFinite(end) || end <= now || (tier !== 'short' && tier !== 'long')) return null;
  return { until: end, tier };
}

// --- Redis ------------------------------------------------------------------------------------------------------

const SLIDING_WINDOW_LUA = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
local admitted = n < max
if admitted then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  n = n + 1
else
  n = n + 1
end
local ttl = window
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if oldest[2] then ttl = tonumber(oldest[2]) + window - now end
if ttl < 1 then ttl = 1 end
return {n, ttl}
`;

const TOKEN_BUCKET_LUA = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', key) or '0') or 0
if tat < now then tat = now end
local newTat = tat + interval
local allowAt = newTat - burst * interval
if now < allowAt then
  return {burst + 1, math.ceil(allowAt - now)}
end
redis.call('SET', key, string.format('%.3f', newTat), 'PX', math.ceil(newTat - now))
local remaining = math.floor((now - allowAt) / interval)
return {burst - remaining, math.ceil(newTat - now)}
`;

const RECORD_HIT_LUA = `
local hits = KEYS[1]
local blk = KEYS[2]
local told = KEYS[3]
local now = tonumber(ARGV[1])
local shortWin, shortHits, shortBlock = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local longWin, longHits, longBlock = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local arrived, retryAfter, freshGrace = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local connectionTold = ARGV[12] == '1'
local untilMs, tier = 0, ''
local current = redis.call('GET', blk)
if current then
  local sep = string.find(current, ':', 1, true)
  if sep then
    untilMs = tonumber(string.sub(current, 1, sep - 1)) or 0
    tier = string.sub(current, sep + 1)
  end
  if untilMs <= now then untilMs = 0; tier = '' end
end
if tier == 'long' then return {untilMs, tier, '', 0, 0} end
local issued, deadline = 0, 0
local run = redis.call('GET', told)
if run then
  local sep = string.find(run, ':', 1, true)
  if sep then
    issued = tonumber(string.sub(run, 1, sep - 1)) or 0
    deadline = tonumber(string.sub(run, sep + 1)) or 0
  end
end
local ignoring = false
if deadline > now then
  ignoring = arrived < deadline and (connectionTold or arrived >= issued + freshGrace)
  deadline = math.max(deadline, now + retryAfter)
else
  issued = now; deadline = now + retryAfter
end
redis.call('ZREMRANGEBYSCORE', hits, '-inf', now - longWin)
if ignoring then
  redis.call('ZADD', hits, now, ARGV[2])
  redis.call('ZREMRANGEBYRANK', hits, 0, -(longHits + 1))
  redis.call('PEXPIRE', hits, longWin)
end
local n15 = redis.call('ZCARD', hits)
local n5 = redis.call('ZCOUNT', hits, '(' .. string.format('%d', now - shortWin), '+inf')
local escalated = ''
if ignoring and n15 >= longHits then
  untilMs = now + longBlock; tier = 'long'; escalated = 'long'
  redis.call('SET', blk, string.format('%d', untilMs) .. ':long', 'PX', longBlock)
elseif ignoring and n5 >= shortHits and tier == '' then
  untilMs = now + shortBlock; tier = 'short'; escalated = 'short'
  redis.call('SET', blk, string.format('%d', untilMs) .. ':short', 'PX', shortBlock)
end
if untilMs > deadline then deadline = untilMs end
redis.call('SET', told, string.format('%d', issued) .. ':' .. string.format('%d', deadline), 'PX', math.max(1, deadline - now))
return {untilMs, tier, escalated, n5, n15}
`;

type Scripted = Redis & {
  clawd402RlWindow(key: string, now: number, window: number, max: number, member: string): Promise<[number, number]>;
  clawd402RlBucket(key: string, now: number, interval: number, burst: number): Promise<[number, number]>;
  clawd402RlHit(
    hits: string,
    block: string,
    told: string,
    ...args: (string | number)[]
  ): Promise<[number, string, string, number, number]>;
};

/** Each store call gives up after this long and the request goes through (fail open), so a blackholed Redis cannot
 * stall requests the way a refused connection cannot. */
export const STORE_TIMEOUT_MS = 500;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rate-limit store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Redis keys, under `prefix`: `w:<key>` (sorted set of admission times), `tb:<key>` (GCRA theoretical arrival time),
 * `hit:{<subject>}` (sorted set of limit hits), `blk:{<subject>}` (`<until>:<tier>`) and `told:{<subject>}`
 * (`<issued>:<deadline>`, the Retry-After told). The braces keep a subject's keys in one Redis Cluster slot.
 */
export class RedisBackend implements RateLimitBackend {
  readonly #redis: Scripted;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis as Scripted;
    this.#prefix = prefix;
    if (typeof this.#redis.clawd402RlWindow !== 'function') {
      redis.defineCommand('clawd402RlWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
      redis.defineCommand('clawd402RlBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
      redis.defineCommand('clawd402RlHit', { numberOfKeys: 3, lua: RECORD_HIT_LUA });
    }
  }

  async slidingWindow(key: string, now: number, windowMs: number, max: number): Promise<CountResult> {
    const [current, ttl] = await withTimeout(
      this.#redis.clawd402RlWindow(`${this.#prefix}w:${key}`, now, windowMs, max, uniqueMember(now)),
      STORE_TIMEOUT_MS,
    );
    return { current, ttl };
  }

  async tokenBucket(key: string, now: number, perMin: number, burst: number): Promise<CountResult> {
    const [current, ttl] = await withTimeout(
      this.#redis.clawd402RlBucket(`${this.#prefix}tb:${key}`, now, 60_000 / perMin, burst),
      STORE_TIMEOUT_MS,
    );
    return { current, ttl };
  }

  async block(subject: string, now: number): Promise<BlockState | null> {
    return parseBlock(await withTimeout(this.#redis.get(`${this.#prefix}blk:{${subject}}`), STORE_TIMEOUT_MS), now);
  }

  async recordHit(subject: string, now: number, told: ToldRetry): Promise<HitResult> {
    const p = PROGRESSIVE;
    const [until, tier, escalated, shortHits, longHits] = await withTimeout(
      this.#redis.clawd402RlHit(
        `${this.#prefix}hit:{${subject}}`,
        `${this.#prefix}blk:{${subject}}`,
        `${this.#prefix}told:{${subject}}`,
        now,
        uniqueMember(now),
        p.shortWindowMs,
        p.shortHits,
        p.shortBlockMs,
        p.longWindowMs,
        p.longHits,
        p.longBlockMs,
        told.arrivedAt,
        told.retryAfterMs,
        FRESH_CONNECTION_GRACE_MS,
        told.connectionTold ? '1' : '0',
      ),
      STORE_TIMEOUT_MS,
    );
    return {
      block: tier === 'short' || tier === 'long' ? { until, tier } : null,
      escalated: escalated === 'short' || escalated === 'long' ? escalated : null,
      shortHits,
      longHits,
    };
  }
}

// --- In-process -------------------------------------------------------------------------------------------------

/** Most keys the in-process store holds; past this the oldest are dropped (a flood of addresses cannot exhaust memory). */
const MEMORY_MAX_KEYS = 100_000;

interface MemoryEntry {
  /** Epoch milliseconds (by the injected clock) after which the entry is garbage. */
  expires: number;
  times?: number[];
  tat?: number;
  block?: BlockState;
  /** The run of refusals: when it began and the Retry-After deadline told so far. */
  told?: { issued: number; deadline: number };
}

/** The same semantics as RedisBackend, for one process (the embedded default, where REDIS_URL is not set). */
export class MemoryBackend implements RateLimitBackend {
  readonly #entries = new Map<string, MemoryEntry>();
  #operations = 0;

  #get(key: string, now: number): MemoryEntry | undefined {
    if (++this.#operations % 4096 === 0) this.#sweep(now);
    const entry = this.#entries.get(key);
    if (entry && entry.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #set(key: string, entry: MemoryEntry): void {
    this.#entries.delete(key); // re-insert: Map order is then least recently written first
    this.#entries.set(key, entry);
    while (this.#entries.size > MEMORY_MAX_KEYS) this.#entries.delete(this.#entries.keys().next().value!);
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.expires <= now) this.#entries.delete(key);
  }

  async slidingWindow(key: string, now: number, windowMs: number, max: number): Promise<CountResult> {
    const id = `w:${key}`;
    const times = (this.#get(id, now)?.times ?? []).filter((t) => t > now - windowMs);
    const admitted = times.length < max;
    if (admitted) {
      times.push(now);
      times.sort((a, b) => a - b);
    }
    this.#set(id, { expires: admitted ? now + windowMs : (this.#entries.get(id)?.expires ?? now + windowMs), times });
    const ttl = times.length > 0 ? Math.max(1, times[0]! + windowMs - now) : windowMs;
    return { current: times.length + (admitted ? 0 : 1), ttl };
  }

  async tokenBucket(key: string, now: number, perMin: number, burst: number): Promise<CountResult> {
    const id = `tb:${key}`;
    const interval = 60_000 / perMin;
    const tat = Math.max(this.#get(id, now)?.tat ?? 0, now);
    const newTat = tat + interval;
    const allowAt = newTat - burst * interval;
    if (now < allowAt) return { current: burst + 1, ttl: Math.ceil(allowAt - now) };
    this.#set(id, { expires: Math.ceil(newTat), tat: newTat });
    return { current: burst - Math.floor((now - allowAt) / interval), ttl: Math.ceil(newTat - now) };
  }

  async block(subject: string, now: number): Promise<BlockState | null> {
    const block = this.#get(`blk:${subject}`, now)?.block;
    return block && block.until > now ? { ...block } : null;
  }

  async recordHit(subject: string, now: number, told: ToldRetry): Promise<HitResult> {
    const p = PROGRESSIVE;
    let block = await this.block(subject, now);
    if (block?.tier === 'long') return { block, escalated: null, shortHits: 0, longHits: 0 };
    const run = this.#get(`told:${subject}`, now)?.told;
    const ignoring = run !== undefined && ignoresRetryAfter(told, run.issued, run.deadline);
    const next = run
      ? { issued: run.issued, deadline: Math.max(run.deadline, now + told.retryAfterMs) }
      : { issued: now, deadline: now + told.retryAfterMs };
    const id = `hit:${subject}`;
    const times = (this.#get(id, now)?.times ?? []).filter((t) => t > now - p.longWindowMs);
    if (!ignoring) {
      this.#set(`told:${subject}`, { expires: next.deadline, told: next });
      const shortHits = times.filter((t) => t > now - p.shortWindowMs).length;
      return { block, escalated: null, shortHits, longHits: times.length };
    }
    times.push(now);
    times.sort((a, b) => a - b);
    if (times.length > p.longHits) times.splice(0, times.length - p.longHits);
    this.#set(id, { expires: now + p.longWindowMs, times });
    const longHits = times.length;
    const shortHits = times.filter((t) => t > now - p.shortWindowMs).length;
    let escalated: BlockTier | null = null;
    if (longHits >= p.longHits) {
      block = { until: now + p.longBlockMs, tier: 'long' };
      escalated = 'long';
    } else if (shortHits >= p.shortHits && !block) {
      block = { until: now + p.shortBlockMs, tier: 'short' };
      escalated = 'short';
    }
    if (escalated) this.#set(`blk:${subject}`, { expires: block!.until, block: { ...block! } });
    if (block) next.deadline = Math.max(next.deadline, block.until);
    this.#set(`told:${subject}`, { expires: next.deadline, told: next });
    return { block, escalated, shortHits, longHits };
  }
}
