import type { Logger } from '../domain/logger.ts';
import { Worker, type WorkerDefinition, type WorkerInfo } from './worker.ts';

/**
 * Every background job of one gateway process, started and stopped together (app.ts: when the app is ready, and
 * when it closes). A new periodic job (retention, digests, reminders) is one `add()` in workers/gateway-workers.ts.
 */
export class WorkerSet {
  private readonly workers: Worker[] = [];
  private stopping: Promise<void> | null = null;

  constructor(private readonly log: Logger) {}

  /** Register a job; it starts with the set (or at once, if the set already started). Names are unique. */
  add(definition: WorkerDefinition): Worker {
    if (this.workers.some((w) => w.name === definition.name))
      throw new Error(`a worker named ${definition.name} is already registered`);
    const worker = new Worker(definition, this.log);
    this.workers.push(worker);
    return worker;
  }

  get(name: string): Worker | undefined {
    return this.workers.find((w) => w.name === name);
  }

  list(): WorkerInfo[] {
    return this.workers.map((w) => w.info());
  }

  start(): void {
    for (const worker of this.workers) worker.start();
  }

  /** Stop every worker at once and wait for their running ticks. Idempotent: later calls share the first. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all(this.workers.map((w) => w.stop())).then(() => undefined);
    return this.stopping;
  }
}
