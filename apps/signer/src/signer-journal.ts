import {
  closeSync,
  existsSync,
  fdatasync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  write,
  writeFileSync,
} from 'node:fs';
import { SignerError, SIGN_OPERATIONS, type NonceMode, type SignOperation } from '@clawd402/protocol';
import { readConfigText, SignerConfigError } from './keystore.ts';
import { NonceGuard, nonceFields, parseNonceClaim, type NonceClaim } from './nonce-guard.ts';

/**
 * How long a used `jti` is remembered past its `exp`, in seconds. A ticket is refused once expired anyway; the margin
 * covers a wall clock stepped backwards a little.
 */
export const JOURNAL_GRACE_SECONDS = 60;
/** The rolling window of the daily cap, in minutes. Spends are kept in one-minute buckets. */
export const DAY_MINUTES = 24 * 60;
const PRUNE_EVERY_SECONDS = 10;
const DEFAULT_COMPACT_BYTES = 16 * 1024 * 1024;

export type UsageCounters = Record<SignOperation, number> & { lastUsed: number | null };

export interface SignerJournalOptions {
  /** Append-only state file; loaded at open so a restart still refuses reuse and still counts the day's spend. */
  path?: string;
  /** Clock in milliseconds since the epoch. */
  now?: () => number;
  /** fdatasync each batch before any signature in it is made (default true). Off only to measure its cost. */
  fsync?: boolean;
  /** Rewrite the file once this many bytes were appended since the last rewrite. */
  compactBytes?: number;
  /** Told when a torn trailing line was skipped at load (a crash mid-append: nothing was signed with it). */
  onTornLine?: () => void;
  /** Load only: no compaction, no appends (`keys list` reading a running signer's journal). */
  readOnly?: boolean;
  /** Nonces remembered below the highest signed per (chain, address); default NONCE_WINDOW (tests shrink it). */
  nonceWindow?: number;
}

/** One signature's claim on a ticket and on its key's rolling-day budget, until released. */
export interface Reservation {
  readonly jti: string;
  readonly capKey: string;
  readonly usageKey: string;
  readonly operation: SignOperation;
  readonly amount: bigint;
  readonly minute: number;
  /** The nonce claim this signature added (absent for non-transactions and identical re-signs). */
  readonly nonce?: NonceClaim;
}

export interface ReserveParams {
  jti: string;
  exp: number;
  /** Key whose rolling-day window is charged (a rotated key's lineage root, so rotation does not reset the day). */
  capKey: string;
  /** Key whose usage counters count the signature. */
  usageKey: string;
  operation: SignOperation;
  /** Worst-case native value, wei. */
  amount: bigint;
  /** Rolling 24-hour cap for `capKey`, wei; null for none. */
  dayCap: bigint | null;
  /** For a transaction: its nonce and digest, and the ticket's nonce mode (the nonce guard). */
  nonce?: { claim: NonceClaim; mode: NonceMode };
}

/**
 * The signer's state journal: used tickets, each key's spend in a rolling 24 hours, usage counters, and the digest
 * signed at each recent nonce of each address (see nonce-guard.ts), in one append-only JSON-lines file.
 *
 * {@link reserve} checks reuse, the nonce guard and the daily cap and records all three in one synchronous step, so two concurrent requests
 * can neither both use one ticket nor both fit under a cap that only one fits under (reserve, then sign). The caller
 * then awaits {@link durable}: lines reserved in the same tick are written and fdatasync'ed together (group commit),
 * and only then is anything signed, so a crash can never forget a signature that was handed out. A failed write stops
 * the journal: every later reservation is refused (fail closed).
 *
 * Lines: `{"jti","exp"}` (used ticket; also what journals before spend accounting hold), `{"jti","exp","k","u","op",
 * "v","m"}` (a signature: cap key, usage key, operation, wei, minute; a transaction's also `"nc","na","ni","nd"`: chain,
 * address, nonce, digest), `{"rel","k","u","op","v","m"}` (a reservation given back because the signature was not
 * made, e.g. declined on a device; with the nonce fields when the signature had added its digest), `{"snap":1,
 * "usage","buckets","nonces"}` (written by compaction), `{"latch","at","why"}` / `{"unlatch"}` (the kill-switch latch set and
 * lifted; see docs/killswitch.md).
 */
export class SignerJournal {
  readonly #used = new Map<string, number>();
  /** capKey → minute → wei. */
  readonly #buckets = new Map<string, Map<number, bigint>>();
  readonly #usage = new Map<string, UsageCounters>();
  readonly #nonces: NonceGuard;
  readonly #now: () => number;
  readonly #path: string | undefined;
  readonly #fsync: boolean;
  readonly #compactBytes: number;
  #fd: number | undefined;
  #lastPrune = 0;
  #batch: string[] = [];
  #batchDone: Promise<void> | undefined;
  #tail: Promise<void> = Promise.resolve();
  #appended = 0;
  #broken = false;
  #latch: { id: string; since: number } | null = null;

  constructor(options: SignerJournalOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#nonces = new NonceGuard(options.nonceWindow);
    this.#fsync = options.fsync ?? true;
    this.#compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
    if (options.readOnly) {
      if (options.path !== undefined) this.#load(options.path, options.onTornLine);
      this.#broken = true; // nothing can be reserved through a read-only view
      return;
    }
    this.#path = options.path;
    if (this.#path !== undefined) {
      this.#load(this.#path, options.onTornLine);
      this.#compact();
    }
  }

  /** Number of remembered tickets. */
  get size(): number {
    return this.#used.size;
  }

  has(jti: string): boolean {
    return this.#used.has(jti);
  }

  /** Wei charged to `capKey` within the rolling 24 hours (counted in whole minutes, never less than the truth). */
  spentLastDay(capKey: string): bigint {
    const buckets = this.#buckets.get(capKey.toLowerCase());
    if (!buckets) return 0n;
    const oldest = this.#minute() - DAY_MINUTES;
    let sum = 0n;
    for (const [minute, wei] of buckets) if (minute >= oldest) sum += wei;
    return sum;
  }

  /** Digests signed at a nonce of an address on a chain, as the nonce guard remembers them. */
  signedAtNonce(chainId: number, address: string, nonce: number): readonly string[] {
    return this.#nonces.signedAt(chainId, address, nonce);
  }

  /** Nonce entries held in memory, over every address (bounded by the window per address). */
  get nonceEntries(): number {
    return this.#nonces.size;
  }

  /** The kill-switch latch (docs/killswitch.md), or null. */
  get latch(): { id: string; since: number } | null {
    return this.#latch ? { ...this.#latch } : null;
  }

  /**
   * Latch: from now on the request handler refuses every ticket but cancellations. Idempotent: an existing latch keeps
   * its id. Await {@link durable} before answering, so a latch reported is a latch on disk.
   */
  setLatch(id: string, reason: string): { id: string; since: number } {
    if (this.#broken) throw new SignerError('signer_internal');
    if (this.#latch) return { ...this.#latch };
    this.#latch = { id, since: this.#now() };
    this.#queue({ latch: id, at: this.#latch.since, why: reason });
    return { ...this.#latch };
  }

  /** Lift the latch `id` (the caller has checked the release authorisation). */
  clearLatch(id: string): void {
    if (this.#broken) throw new SignerError('signer_internal');
    if (this.#latch?.id !== id) return;
    this.#latch = null;
    this.#queue({ unlatch: id });
  }

  usage(key: string): UsageCounters {
    const counters = this.#usage.get(key.toLowerCase());
    return counters ? { ...counters } : { transaction: 0, typed_data: 0, personal_sign: 0, lastUsed: null };
  }

  /**
   * Spend a ticket, claim its nonce and reserve its amount, in one synchronous step. Throws `ticket_reused` if the
   * ticket was used, `nonce_already_signed` / `nonce_below_window` if the nonce guard refuses, `daily_cap_exceeded` if
   * the amount does not fit (nothing is recorded then), `signer_internal` if the journal stopped after a failed write.
   */
  reserve(params: ReserveParams): Reservation {
    if (this.#broken) throw new SignerError('signer_internal');
    this.#maybePrune();
    if (this.#used.has(params.jti)) throw new SignerError('ticket_reused');
    const claim = params.nonce ? normaliseClaim(params.nonce.claim) : undefined;
    if (claim) this.#nonces.check(claim, params.nonce!.mode);
    const capKey = params.capKey.toLowerCase();
    if (params.dayCap !== null && this.spentLastDay(capKey) + params.amount > params.dayCap)
      throw new SignerError('daily_cap_exceeded');
    const minute = this.#minute();
    const added = claim ? this.#nonces.record(claim) : false;
    const reservation: Reservation = {
      jti: params.jti,
      capKey,
      usageKey: params.usageKey.toLowerCase(),
      operation: params.operation,
      amount: params.amount,
      minute,
      ...(added ? { nonce: claim } : {}),
    };
    this.#used.set(params.jti, params.exp);
    this.#apply(reservation, 1, this.#now());
    this.#queue({
      jti: params.jti,
      exp: params.exp,
      k: capKey,
      u: reservation.usageKey,
      op: params.operation,
      v: params.amount.toString(),
      m: minute,
      ...(claim ? nonceFields(claim) : {}),
    });
    return reservation;
  }

  /** Give a reservation back (the signature was not made). The ticket stays spent. */
  release(reservation: Reservation): void {
    this.#apply(reservation, -1, null);
    if (reservation.nonce) this.#nonces.forget(reservation.nonce);
    this.#queue({
      rel: reservation.jti,
      k: reservation.capKey,
      u: reservation.usageKey,
      op: reservation.operation,
      v: reservation.amount.toString(),
      m: reservation.minute,
      ...(reservation.nonce ? nonceFields(reservation.nonce) : {}),
    });
  }

  /** Resolves once every line queued so far is on disk (fdatasync'ed); rejects with `signer_internal` if not. */
  durable(): Promise<void> {
    return this.#batchDone ?? this.#tail;
  }

  /** Flush what is queued and close the file. */
  async close(): Promise<void> {
    await this.durable().catch(() => undefined);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #minute(): number {
    return Math.floor(this.#now() / 60_000);
  }

  #apply(r: Reservation, sign: 1 | -1, at: number | null): void {
    let buckets = this.#buckets.get(r.capKey);
    if (!buckets) this.#buckets.set(r.capKey, (buckets = new Map<number, bigint>()));
    const next = (buckets.get(r.minute) ?? 0n) + BigInt(sign) * r.amount;
    if (next === 0n) buckets.delete(r.minute);
    else buckets.set(r.minute, next);
    const counters = this.#usage.get(r.usageKey) ?? { transaction: 0, typed_data: 0, personal_sign: 0, lastUsed: null };
    counters[r.operation] += sign;
    if (at !== null) counters.lastUsed = at;
    this.#usage.set(r.usageKey, counters);
  }

  #queue(entry: object): void {
    if (this.#path === undefined) return;
    this.#batch.push(`${JSON.stringify(entry)}\n`);
    if (this.#batchDone) return;
    // Everything queued before the previous batch finishes (and within this tick) goes into one write + fdatasync.
    const done = this.#tail
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        const lines = this.#batch;
        this.#batch = [];
        this.#batchDone = undefined;
        return this.#writeDurably(lines.join(''));
      });
    this.#batchDone = done;
    this.#tail = done.catch(() => undefined);
  }

  async #writeDurably(text: string): Promise<void> {
    const fd = this.#fd;
    try {
      if (fd === undefined) throw new Error('journal closed');
      const bytes = Buffer.from(text, 'utf8');
      let offset = 0;
      while (offset < bytes.length) {
        offset += await new Promise<number>((resolve, reject) =>
          write(fd, bytes, offset, bytes.length - offset, null, (error, n) => (error ? reject(error) : resolve(n))),
        );
      }
      if (this.#fsync)
        await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
      this.#appended += bytes.length;
    } catch {
      this.#broken = true;
      throw new SignerError('signer_internal');
    }
    // Compact only when nothing is queued: then everything in memory is exactly what is on disk.
    if (this.#appended >= this.#compactBytes && this.#batch.length === 0) this.#compact();
  }

  #maybePrune(): void {
    const now = Math.floor(this.#now() / 1000);
    if (now - this.#lastPrune < PRUNE_EVERY_SECONDS) return;
    this.#lastPrune = now;
    for (const [jti, exp] of this.#used) if (exp + JOURNAL_GRACE_SECONDS < now) this.#used.delete(jti);
    const oldest = this.#minute() - DAY_MINUTES;
    for (const buckets of this.#buckets.values())
      for (const minute of buckets.keys()) if (minute < oldest) buckets.delete(minute);
  }

  #load(path: string, onTornLine?: () => void): void {
    if (!existsSync(path)) return;
    const text = readConfigText(path, `signer journal ${path}`);
    const lines = text.split('\n');
    lines.forEach((line, index) => {
      if (line === '') return;
      if (!this.#replay(line)) {
        // Only the last line can be torn by a crash mid-append (and then nothing was signed with it). A bad line
        // anywhere else means the file was damaged: refuse to start rather than forget what was spent.
        if (index === lines.length - 1) {
          onTornLine?.();
          return;
        }
        throw new SignerConfigError(`signer journal ${path} is corrupt at line ${index + 1}`);
      }
    });
    this.#lastPrune = 0;
    this.#maybePrune();
  }

  /** Apply one journal line to memory; false if it is not a well-formed line. */
  #replay(line: string): boolean {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return false;
    }
    if (e === null || typeof e !== 'object') return false;
    if (e.snap === 1) return this.#replaySnapshot(e);
    if (typeof e.latch === 'string') {
      if (!Number.isSafeInteger(e.at)) return false;
      this.#latch ??= { id: e.latch, since: e.at as number };
      return true;
    }
    if (typeof e.unlatch === 'string') {
      if (this.#latch?.id === e.unlatch) this.#latch = null;
      return true;
    }
    const entry = parseSpend(e);
    const claim = 'nc' in e ? parseNonceClaim(e) : undefined;
    if ('nc' in e && !claim) return false;
    if (typeof e.rel === 'string') {
      if (!entry) return false;
      this.#apply({ jti: e.rel, ...entry }, -1, null);
      if (claim) this.#nonces.forget(claim);
      return true;
    }
    if (typeof e.jti !== 'string' || !Number.isSafeInteger(e.exp)) return false;
    this.#used.set(e.jti, e.exp as number);
    if ('k' in e) {
      if (!entry) return false;
      this.#apply({ jti: e.jti, ...entry }, 1, entry.minute * 60_000);
    }
    if (claim) this.#nonces.record(claim);
    return true;
  }

  #replaySnapshot(e: Record<string, unknown>): boolean {
    const usage = e.usage as Record<string, UsageCounters> | undefined;
    const buckets = e.buckets as Record<string, [number, string][]> | undefined;
    if (!usage || typeof usage !== 'object' || !buckets || typeof buckets !== 'object') return false;
    if (e.nonces !== undefined && !this.#nonces.restore(e.nonces)) return false;
    for (const [key, c] of Object.entries(usage)) {
      if (!SIGN_OPERATIONS.every((op) => Number.isSafeInteger(c?.[op]))) return false;
      this.#usage.set(key, {
        transaction: c.transaction,
        typed_data: c.typed_data,
        personal_sign: c.personal_sign,
        lastUsed: Number.isSafeInteger(c.lastUsed) ? c.lastUsed : null,
      });
    }
    for (const [key, list] of Object.entries(buckets)) {
      if (!Array.isArray(list)) return false;
      const map = new Map<number, bigint>();
      for (const pair of list) {
        if (
          !Array.isArray(pair) ||
          !Number.isSafeInteger(pair[0]) ||
          typeof pair[1] !== 'string' ||
          !/^-?[0-9]+$/.test(pair[1])
        )
          return false;
        map.set(pair[0], BigInt(pair[1]));
      }
      this.#buckets.set(key, map);
    }
    return true;
  }

  /** Rewrite the file with the live state only (temporary file, fsync, rename), then reopen it for appending. */
  #compact(): void {
    const path = this.#path!;
    this.#maybePrune();
    const usage: Record<string, UsageCounters> = Object.fromEntries(this.#usage);
    const buckets: Record<string, [number, string][]> = {};
    for (const [key, map] of this.#buckets)
      if (map.size > 0) buckets[key] = [...map].map(([m, v]) => [m, v.toString()]);
    const nonces = this.#nonces.snapshot();
    let body = '';
    if (this.#usage.size > 0 || Object.keys(buckets).length > 0 || Object.keys(nonces).length > 0) {
      body += `${JSON.stringify({ snap: 1, usage, buckets, nonces })}\n`;
    }
    for (const [jti, exp] of this.#used) body += `${JSON.stringify({ jti, exp })}\n`;
    if (this.#latch) body += `${JSON.stringify({ latch: this.#latch.id, at: this.#latch.since, why: 'compacted' })}\n`;
    const temp = `${path}.${process.pid}.tmp`;
    rmSync(temp, { force: true });
    writeFileSync(temp, body, { mode: 0o600, flag: 'wx' });
    const tempFd = openSync(temp, 'r');
    fsyncSync(tempFd);
    closeSync(tempFd);
    renameSync(temp, path);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = openSync(path, 'a', 0o600);
    this.#appended = 0;
  }
}

function parseSpend(e: Record<string, unknown>): Omit<Reservation, 'jti'> | undefined {
  const { k, u, op, v, m } = e;
  if (
    typeof k !== 'string' ||
    typeof u !== 'string' ||
    !(SIGN_OPERATIONS as readonly unknown[]).includes(op) ||
    typeof v !== 'string' ||
    !/^[0-9]+$/.test(v) ||
    !Number.isSafeInteger(m)
  ) {
    return undefined;
  }
  return { capKey: k, usageKey: u, operation: op as SignOperation, amount: BigInt(v), minute: m as number };
}

function normaliseClaim(claim: NonceClaim): NonceClaim {
  return {
    chainId: claim.chainId,
    address: claim.address.toLowerCase(),
    nonce: claim.nonce,
    digest: claim.digest.toLowerCase(),
  };
}
