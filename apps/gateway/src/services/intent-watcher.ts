import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import { PgListener } from '../db/listener.ts';
import type { Logger } from '../domain/logger.ts';
import {
  INTENTS_CHANNEL,
  findIntent,
  findIntentChangesSince,
  parseIntentNotices,
  type IntentChangeNotice,
  type IntentRecord,
} from '../repositories/intents-repository.ts';

/** One request waiting on an agent's intents: an SSE stream or a long-poll. */
export interface IntentWaiter {
  agentId: string;
  /** The intents it waits on; null: every intent of the agent. */
  ids: ReadonlySet<string> | null;
  /** An intent it waits on changed (status or transaction hash); the record is read after the change committed. */
  onChange: (intent: IntentRecord) => void;
  /** The gateway is shutting down: answer now. */
  onClose: () => void;
}

/** A long-poll's subscription (see {@link IntentWatcher.subscribe}). */
export interface IntentSubscription {
  /** Resolve once a change since subscribing satisfies `changed`, after `timeoutMs`, on abort or at shutdown. */
  until(changed: (intent: IntentRecord) => boolean, timeoutMs: number, signal: AbortSignal): Promise<void>;
  close(): void;
}

export interface IntentWatcherOptions {
  pool: pg.Pool;
  log: Logger;
  /** Postgres URL for the one LISTEN connection; null in the embedded default (PGlite), which polls instead. */
  listenUrl: string | null;
  /** The embedded fallback's poll, and the catch-up after LISTEN reconnects (default 1,000 ms). */
  pollMs?: number;
  /** Waiting requests one agent may hold open at once (default 1,000); more answer `429 too_many_waiters`. */
  maxPerAgent?: number;
}

/** How far back a catch-up looks before the last one (a transaction's now() is its start, not its commit). */
const CATCH_UP_OVERLAP_MS = 5_000;

/**
 * One process's fan-out of intent changes to the requests waiting on them (docs/waiting.md). A trigger NOTIFYs
 * `clawd402_intents` with each statement's changes of status or transaction hash; one LISTEN connection per process
 * receives them and wakes the waiters of each change's agent. A change nobody here waits on costs nothing; a change
 * somebody waits on costs one read of that intent, shared by all its waiters. Idle waiters cost no query at all.
 *
 * Without LISTEN (PGlite: no NOTIFY across connections) it polls once per `pollMs` while anyone waits: one query for
 * every waiting agent's recent changes. After LISTEN (re)connects the same query catches up on what was missed.
 */
export class IntentWatcher {
  readonly #byAgent = new Map<string, Set<IntentWaiter>>();
  readonly #listener: PgListener | null;
  readonly #loading = new Map<string, Promise<IntentRecord | null>>();
  readonly #options: IntentWatcherOptions;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #count = 0;
  /** Changes at or after this were delivered (or are being caught up). */
  #caughtUpTo = new Date();
  #polling = false;

  constructor(options: IntentWatcherOptions) {
    this.#options = options;
    this.#listener = options.listenUrl
      ? new PgListener({
          url: options.listenUrl,
          channel: INTENTS_CHANNEL,
          applicationName: 'clawd402-intents-listener',
          log: options.log,
          onNotify: (payload) => {
            for (const notice of parseIntentNotices(payload)) this.#deliver(notice);
          },
          onListening: () => void this.#catchUp(),
        })
      : null;
  }

  /** Requests waiting now, in this process. */
  get waiting(): number {
    return this.#count;
  }

  /** True while the LISTEN connection is up (always false in the embedded default). */
  get listening(): boolean {
    return this.#listener?.listening ?? false;
  }

  /** Open the LISTEN connection, or start the embedded fallback's poll. Idempotent. */
  start(): void {
    if (this.#closed) return;
    this.#caughtUpTo = new Date();
    if (this.#listener) this.#listener.open();
    else if (!this.#timer) {
      this.#timer = setInterval(() => void this.#catchUp(), this.#options.pollMs ?? 1_000);
      this.#timer.unref();
    }
  }

  /** Register a waiter; the returned function removes it. `too_many_waiters` past the per-agent cap. */
  watch(waiter: IntentWaiter): () => void {
    if (this.#closed) {
      queueMicrotask(waiter.onClose);
      return () => {};
    }
    let set = this.#byAgent.get(waiter.agentId);
    if (set && set.size >= (this.#options.maxPerAgent ?? 1_000)) throw new Clawd402Error('too_many_waiters');
    if (!set) this.#byAgent.set(waiter.agentId, (set = new Set()));
    set.add(waiter);
    this.#count += 1;
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.#count -= 1;
      set.delete(waiter);
      if (set.size === 0 && this.#byAgent.get(waiter.agentId) === set) this.#byAgent.delete(waiter.agentId);
    };
  }

  /**
   * Subscribe a long-poll to `ids` of `agentId` before it reads their state, so that no change falls between the read
   * and the wait; changes are kept until `until` looks at them. Close it when done (`too_many_waiters` past the cap).
   */
  subscribe(agentId: string, ids: readonly string[]): IntentSubscription {
    const seen: IntentRecord[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    const unwatch = this.watch({
      agentId,
      ids: new Set(ids),
      onChange: (intent) => {
        seen.push(intent);
        wake?.();
      },
      onClose: () => {
        closed = true;
        wake?.();
      },
    });
    return {
      until: (changed, timeoutMs, signal) =>
        new Promise<void>((resolve) => {
          const finish = (): void => {
            clearTimeout(timer);
            signal.removeEventListener('abort', finish);
            wake = null;
            resolve();
          };
          const timer = setTimeout(finish, timeoutMs);
          signal.addEventListener('abort', finish, { once: true });
          wake = () => {
            if (closed || seen.some(changed)) finish();
          };
          if (signal.aborted) finish();
          else wake();
        }),
      close: unwatch,
    };
  }

  /** Answer every waiter (shutdown) and stop listening. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const set of [...this.#byAgent.values()]) for (const waiter of [...set]) waiter.onClose();
    await this.#listener?.close();
  }

  /** Wake the waiters of one change: one read of the intent, shared by all of them; nothing if nobody waits on it. */
  #deliver(notice: IntentChangeNotice): void {
    const set = this.#byAgent.get(notice.agentId);
    if (!set || ![...set].some((w) => wants(w, notice.id))) return;
    // Reads of one intent in flight are shared: a burst of notices for it costs one query.
    let load = this.#loading.get(notice.id);
    if (!load) {
      load = findIntent(this.#options.pool, notice.id).finally(() => this.#loading.delete(notice.id));
      this.#loading.set(notice.id, load);
    }
    load.then(
      (intent) => {
        if (intent?.agentId !== notice.agentId) return;
        for (const waiter of [...(this.#byAgent.get(notice.agentId) ?? [])]) {
          if (wants(waiter, intent.id)) waiter.onChange(intent);
        }
      },
      (error: unknown) =>
        this.#options.log.warn({ err: error, intentId: notice.id }, 'could not read a changed intent for its waiters'),
    );
  }

  /** Deliver every change of a waiting agent since the last catch-up (the embedded poll; after LISTEN reconnects). */
  async #catchUp(): Promise<void> {
    if (this.#polling || this.#byAgent.size === 0) {
      if (this.#byAgent.size === 0) this.#caughtUpTo = new Date();
      return;
    }
    this.#polling = true;
    const started = new Date();
    try {
      const since = new Date(this.#caughtUpTo.getTime() - CATCH_UP_OVERLAP_MS);
      const changes = await findIntentChangesSince(this.#options.pool, [...this.#byAgent.keys()], since, 1_000);
      for (const change of changes) this.#deliver(change);
      this.#caughtUpTo = started;
    } catch (error) {
      this.#options.log.warn({ err: error }, 'could not read intent changes for waiters');
    } finally {
      this.#polling = false;
    }
  }
}

function wants(waiter: IntentWaiter, id: string): boolean {
  return waiter.ids?.has(id) ?? true;
}
