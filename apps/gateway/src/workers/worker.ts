import type { Logger } from '../domain/logger.ts';
import { PgListener } from '../db/listener.ts';

/** What a tick may answer: `{ again: true }` when work is left over and the next tick should run at once. */
export type TickResult = void | { again?: boolean };

export interface WorkerDefinition {
  /** Short, stable, kebab-case: it names the worker in logs and listings. */
  name: string;
  /** Pause between the end of one tick and the start of the next. */
  intervalMs: number;
  /** One pass of the job. Ticks never overlap; a tick that throws is logged and retried after a backoff. */
  tick: () => Promise<TickResult>;
  /** Delay before the first tick after `start()` (default: `intervalMs`; 0 runs one at once). */
  firstTickMs?: number;
  /** Wake early on Postgres NOTIFY (and once each time LISTEN is established); the interval stays as the fallback. */
  listen?: { url: string; channel: string; applicationName: string } | null;
  /** Longest wait after repeated failures (default: the larger of the interval and 30 s). */
  maxBackoffMs?: number;
}

/** How a worker is set up, for listings and the health view. */
export interface WorkerInfo {
  name: string;
  intervalMs: number;
  wakeOn: string | null;
  running: boolean;
  /** Consecutive failed ticks (0 when the last one succeeded). */
  failures: number;
}

/**
 * A periodic background job with one lifecycle: `start()` schedules ticks, ticks never overlap, `wake()` runs one
 * as soon as possible (right after the running one, if any), a failing tick is logged and the next waits
 * interval × 2^failures (capped), and `stop()` cancels what is scheduled and waits for the running tick to finish.
 * Timers do not hold the process open. The job's own logic stays in its service (tests call it directly); the
 * worker only decides when it runs.
 */
export class Worker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private started = false;
  private stopped = false;
  private failures = 0;
  private readonly listener: PgListener | null;

  constructor(
    private readonly definition: WorkerDefinition,
    private readonly log: Logger,
  ) {
    const listen = definition.listen;
    this.listener = listen
      ? new PgListener({ ...listen, log, onNotify: () => this.wake(), onListening: () => this.wake() })
      : null;
  }

  get name(): string {
    return this.definition.name;
  }

  /** True while the worker's LISTEN connection is up (false for workers without one). */
  get listening(): boolean {
    return this.listener?.listening ?? false;
  }

  info(): WorkerInfo {
    const { name, intervalMs, listen } = this.definition;
    return {
      name,
      intervalMs,
      wakeOn: listen ? `LISTEN ${listen.channel}` : null,
      running: this.running !== null,
      failures: this.failures,
    };
  }

  /** Start ticking (and listening). Idempotent; a stopped worker stays stopped. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(this.definition.firstTickMs ?? this.definition.intervalMs);
    this.listener?.open();
  }

  /** Run a tick now, or right after the running one. */
  wake(): void {
    if (!this.started || this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Cancel the next tick, close the LISTEN connection and wait for the running tick (if any) to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all([this.listener?.close(), this.running]);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), delayMs);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    this.running = this.definition
      .tick()
      .then((result) => {
        this.failures = 0;
        if (result && result.again) this.again = true;
      })
      .catch((error: unknown) => {
        this.failures += 1;
        this.log.error(
          { err: error, worker: this.definition.name, failures: this.failures },
          `${this.definition.name}: tick failed`,
        );
      })
      .finally(() => {
        this.running = null;
        const again = this.again;
        this.again = false;
        this.schedule(this.failures > 0 ? this.backoffMs() : again ? 0 : this.definition.intervalMs);
      });
  }

  private backoffMs(): number {
    const { intervalMs, maxBackoffMs } = this.definition;
    const cap = maxBackoffMs ?? Math.max(intervalMs, 30_000);
    return Math.min(cap, intervalMs * 2 ** Math.min(this.failures, 20));
  }
}
