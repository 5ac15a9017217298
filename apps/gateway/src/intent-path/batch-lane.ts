/**
 * Batching by key, the concurrency helper the deciding and signing stages share. Work for one key (an agent's lane,
 * an address) queues in memory — holding no database connection — and runs in batches of at most `maxBatch`, one batch
 * at a time per key, in arrival order; batches of different keys run in parallel. What a batch does is the stage's
 * business: it answers each item (a value or an error), or hands items back to run again in the next batch.
 */
export type BatchAnswer<R> =
  { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown } | { readonly retry: true };

export class BatchLanes<T, R> {
  private readonly queues = new Map<
    string,
    { item: T; resolve: (value: R) => void; reject: (error: unknown) => void }[]
  >();

  constructor(
    /** Runs one batch; answers one entry per item, in order. A throw fails the whole batch. */
    private readonly runBatch: (batch: readonly T[]) => Promise<readonly BatchAnswer<R>[]>,
    private readonly maxBatch: number,
  ) {}

  /** Queue `item` on `key`'s lane; resolves with its answer. */
  run(key: string, item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      const job = { item, resolve, reject };
      const queue = this.queues.get(key);
      if (queue) {
        queue.push(job);
        return;
      }
      this.queues.set(key, [job]);
      void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      try {
        const answers = await this.runBatch(batch.map((job) => job.item));
        const retry: typeof batch = [];
        batch.forEach((job, i) => {
          const answer = answers[i]!;
          if ('retry' in answer) retry.push(job);
          else if (answer.ok) job.resolve(answer.value);
          else job.reject(answer.error);
        });
        queue.unshift(...retry);
      } catch (error) {
        for (const job of batch) job.reject(error);
      }
    }
    this.queues.delete(key);
  }
}
