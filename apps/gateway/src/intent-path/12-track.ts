import type pg from 'pg';
import { logEvent } from '@clawd402/protocol';
import type { Hex, TransactionReceipt } from 'viem';
import { ALERT_KINDS } from '../domain/alert.ts';
import type { Logger } from '../domain/logger.ts';
import { raiseAlert } from '../repositories/alerts-repository.ts';
import {
  findAbandonedApprovals,
  findInFlight,
  findSettledSince,
  listAttempts,
  transitionIntent,
  type IntentRecord,
} from '../repositories/intents-repository.ts';
import { closeSpend } from '../repositories/spend-repository.ts';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { NonceReconciler, ReconcileReport } from '../chain/reconciler.ts';
import { submitSigned } from './11-submit.ts';
import { closeOpenSpend, settleMined, type Mined } from './13-settle.ts';

/** A `signed` intent whose broadcast has not been recorded for this long is broadcast again. */
const REBROADCAST_AFTER_MS = 3_000;
/** An in-flight intent not settled for this long gets its receipt looked up directly (missed blocks, restarts). */
const SWEEP_AFTER_MS = 30_000;
const SWEEP_EVERY_TICKS = 20;
/** An intent still `approved` after this long lost its signing lane (its process died): it fails closed. */
const ABANDONED_AFTER_MS = 10 * 60_000;
/** Blocks read per chain per tick, at most; a tracker further behind sweeps what is in flight instead (followBlocks). */
const MAX_BLOCKS_PER_TICK = 50;
const BATCH = 200;
/**
 * A sweep spends at most this long a tick; the next tick goes on where it stopped. A backlog of thousands of unsettled
 * intents then never holds up following new blocks (which settle what was just mined) for longer than this.
 */
const SWEEP_BUDGET_MS = 1_000;
const PARALLEL = 8;
/** Receipts looked up at once when settling a block's intents (they travel in one JSON-RPC batch). */
const RECEIPTS_AT_ONCE = 64;
/**
 * Ticks an intent found in a followed block goes on being looked up when its receipt was not there yet (an RPC behind
 * a load balancer can answer a block before its receipts); past that, the sweep finds it.
 */
const RECHECK_TICKS = 25;
/** Below every UUID: where a sweep pass starts (it pages through in-flight intents in id order). */
const FIRST_ID = '00000000-0000-0000-0000-000000000000';
/** Blocks below the head watched for a reorganisation, for chains CHAIN_REORG_DEPTH does not name. */
const DEFAULT_REORG_DEPTH = 64;

/** A receipt lookup that found the mined transaction (not `null`, none mined; not `unknown`, the lookup failed). */
const isMined = (found: Mined | null | 'unknown'): found is Mined => found !== null && found !== 'unknown';

/**
 * Stage 12 — track: settles in-flight intents from the chain (13-settle.ts writes the outcome). Block-driven: each
 * tick reads the blocks mined since the last one, finds the in-flight intents whose transactions they contain (one
 * indexed query per block) and settles them together from their receipts (two statements per block) — RPC cost grows
 * with blocks and with our own transactions, not with how long transactions wait. A block's intent whose receipt is
 * not found yet is looked up again on the next ticks (RECHECK_TICKS). A slow sweep looks up receipts of intents in
 * flight for long (a restart, a missed block), and `signed` intents whose broadcast failed are broadcast again. Every
 * gateway process runs one; transitions are compare-and-set, so several trackers never settle an intent twice. The
 * `receipt-tracker` worker runs `poll()` (workers/gateway-workers.ts).
 */
export class ReceiptTracker {
  private readonly lastBlock = new Map<number, bigint>();
  /** Hashes of the blocks read, per chain, the last CHAIN_REORG_DEPTH of them: how a reorganisation is noticed. */
  private readonly hashes = new Map<number, Map<bigint, Hex>>();
  private ticks = 0;
  /** Chains whose RPC answered that it has no `eth_getBlockReceipts`. */
  private readonly noBlockReceipts = new Set<number>();
  /** Per chain, intents a followed block holds whose receipts were not found: looked up again (recheckMissed). */
  private readonly recheck = new Map<number, Map<string, { intent: IntentRecord; ticks: number }>>();
  /** Sweeps under way, per chain: how old an intent must be to be looked at, and the last id looked at. */
  private readonly sweeps = new Map<
    number,
    { olderThanMs: number; afterId: string; settled: number; again: boolean }
  >();

  constructor(
    private readonly deps: {
      pool: pg.Pool;
      chains: ChainRegistry;
      log: Logger;
      reconciler?: NonceReconciler;
    },
  ) {}

  /** One pass over every chain: the `receipt-tracker` worker's tick (workers/gateway-workers.ts). Tests call it directly. */
  async poll(): Promise<void> {
    const sweep = this.ticks % SWEEP_EVERY_TICKS === 0;
    // The first sweep after start looks at everything in flight: blocks mined while no tracker ran are not re-read.
    const sweepAge = this.ticks === 0 ? 0 : SWEEP_AFTER_MS;
    this.ticks += 1;
    for (const chainId of this.deps.chains.chainIds) {
      await this.recheckMissed(chainId);
      await this.followBlocks(chainId);
      const stale = await findInFlight(this.deps.pool, chainId, {
        status: 'signed',
        olderThanMs: REBROADCAST_AFTER_MS,
        limit: BATCH,
      });
      await this.settleAll(stale);
      if (sweep) this.startSweep(chainId, sweepAge);
      await this.continueSweep(chainId, SWEEP_BUDGET_MS);
    }
    if (sweep) {
      await this.failAbandoned(ABANDONED_AFTER_MS);
      await this.reconcileSpend();
      await this.reconcile();
    }
  }

  /**
   * One pass of the nonce reconciler (deadlines, stuck and dropped transactions, nonce gaps: reconciler.ts), settling
   * with this tracker's receipt checks. Runs on every sweep; exposed for tests.
   */
  async reconcile(): Promise<ReconcileReport | null> {
    return this.deps.reconciler ? this.deps.reconciler.run((intent) => this.checkOne(intent)) : null;
  }

  /** Fail intents approved long ago that never got signed (see findAbandonedApprovals). Exposed for tests. */
  async failAbandoned(olderThanMs: number): Promise<number> {
    let failed = 0;
    for (const id of await findAbandonedApprovals(this.deps.pool, olderThanMs, BATCH)) {
      const row = await transitionIntent(this.deps.pool, id, ['approved'], 'failed', {
        fields: {
          error_code: 'signing_abandoned',
          error_message: 'The intent was approved but its signing never completed; nothing was signed.',
        },
        audit: {
          actor: 'system:tracker',
          action: 'intent.failed',
          subject: `intent:${id}`,
          data: { code: 'signing_abandoned' },
        },
      });
      if (row) {
        failed += 1;
        await closeSpend(this.deps.pool, id);
      }
    }
    if (failed > 0) this.deps.log.warn({ failed }, 'approved intents that were never signed failed closed');
    return failed;
  }

  private async followBlocks(chainId: number): Promise<void> {
    const client = this.deps.chains.client(chainId);
    const head = await client.getBlockNumber({ cacheTime: 0 });
    let last = this.lastBlock.get(chainId) ?? head - 1n;
    const depth = BigInt(this.deps.chains.reorgDepth(chainId, DEFAULT_REORG_DEPTH));
    const hashes = this.hashes.get(chainId) ?? new Map<bigint, Hex>();
    this.hashes.set(chainId, hashes);
    if (depth > 0n) {
      const fork = await this.findFork(chainId, hashes, head < last ? head : last);
      if (fork !== null || head < last) {
        const from = fork ?? head + 1n;
        await this.undoSettled(chainId, from); // throws on an RPC failure: the next tick finds the fork again
        for (const number of hashes.keys()) if (number >= from) hashes.delete(number);
        last = from - 1n;
        this.lastBlock.set(chainId, last);
      }
    }
    if (head - last > MAX_BLOCKS_PER_TICK) {
      // Far behind (a pause, a slow database, a burst of our own transactions): looking up the receipts of what is in
      // flight costs a call per intent, reading every missed block a call per block, and missed blocks grow without
      // bound while intents in flight do not. Jump to the head and sweep everything in flight, a budget a tick, so
      // that blocks mined from now on are followed (and settled) while the sweep goes on.
      this.lastBlock.set(chainId, head);
      this.startSweep(chainId, 0);
      this.deps.log.info(
        { chainId, skippedBlocks: Number(head - last) },
        'tracker far behind: sweeping what is in flight',
      );
      return;
    }
    for (let number = last + 1n; number <= head; number += 1n) {
      const block = await client.getBlock({ blockNumber: number });
      if (block.transactions.length > 0) {
        const mined = await findInFlight(this.deps.pool, chainId, {
          txHashes: block.transactions,
          limit: block.transactions.length,
        });
        // The block's intents settle together: one write for their endings, one for their spend.
        const receipts =
          mined.length >= 2 && mined.length * 4 >= block.transactions.length && block.hash
            ? await this.blockReceipts(chainId, block.hash)
            : null;
        const missed: IntentRecord[] = [];
        await this.settleAll(mined, { rebroadcast: true, receipts, missed });
        this.keepForRecheck(chainId, missed);
      }
      this.lastBlock.set(chainId, number);
      if (depth > 0n && block.hash) {
        hashes.set(number, block.hash);
        hashes.delete(number - depth);
      }
    }
  }

  /**
   * The lowest block, at or below `top`, whose hash differs from the one read before (a reorganisation replaced it),
   * or null. Reads one block when nothing changed; walks down only as far as hashes were kept (CHAIN_REORG_DEPTH).
   */
  private async findFork(chainId: number, hashes: Map<bigint, Hex>, top: bigint): Promise<bigint | null> {
    const client = this.deps.chains.client(chainId);
    let fork: bigint | null = null;
    for (let number = top; hashes.has(number); number -= 1n) {
      const block = await client.getBlock({ blockNumber: number });
      if (block.hash === hashes.get(number)) break;
      fork = number;
    }
    return fork;
  }

  /**
   * A reorganisation replaced the blocks from `fromBlock` up: every intent settled in them whose transaction is no
   * longer mined goes back to `submitted` (audited `intent.reorged`, alert `transaction_reorged`) and its transaction is broadcast again; the next
   * blocks settle it once more. Its spend was closed when it first settled and is not counted again.
   */
  private async undoSettled(chainId: number, fromBlock: bigint): Promise<void> {
    const settled = await findSettledSince(this.deps.pool, chainId, fromBlock, BATCH);
    logEvent(this.deps.log, 'chain.reorg', { chainId, fromBlock: fromBlock.toString(), settled: settled.length });
    for (const intent of settled) {
      const receipt = await this.deps.chains
        .client(chainId)
        .getTransactionReceipt({ hash: intent.txHash as Hex })
        .catch((error: Error) => {
          if (error.name === 'TransactionReceiptNotFoundError') return null;
          throw error;
        });
      if (receipt) continue; // mined in the new blocks too
      const attempt = (await listAttempts(this.deps.pool, intent.id)).find(
        (a) => a.txHash.toLowerCase() === intent.txHash!.toLowerCase(),
      );
      const moved = await transitionIntent(this.deps.pool, intent.id, [intent.status], 'submitted', {
        fields: { raw_tx: attempt?.raw ?? null, error_code: null, error_message: null },
        detail: { reorg: true, blockNumber: intent.blockNumber.toString() },
        audit: {
          actor: 'system:tracker',
          action: 'intent.reorged',
          subject: `intent:${intent.id}`,
          data: { chainId, txHash: intent.txHash, blockNumber: intent.blockNumber.toString(), was: intent.status },
        },
      });
      if (moved) {
        await raiseAlert(this.deps.pool, {
          kind: 'transaction_reorged',
          severity: ALERT_KINDS.transaction_reorged,
          subject: `intent:${intent.id}`,
          summary: `Transaction ${intent.txHash} of intent ${intent.id} was reorganised out of block ${intent.blockNumber} on chain ${chainId}; it is broadcast again`,
          detail: { intentId: intent.id, chainId, txHash: intent.txHash, blockNumber: intent.blockNumber.toString() },
        });
      }
      if (moved && attempt) {
        await this.deps.chains.broadcast(chainId, attempt.raw as Hex, attempt.route);
      }
    }
  }

  /**
   * Start a sweep of the intents in flight (`signed` or `submitted`) for longer than `olderThanMs` — every one of
   * them, in id order. `signed` ones count too: a transaction can be mined before its status write lands. When one is
   * under way it takes the lower of the two ages and, once it reaches the last id, goes round once more from the first:
   * intents below its cursor (mined in the blocks a jump to the head skipped, say) are looked at too, and a backlog
   * still ends (restarting at once would starve the ids at its end).
   */
  private startSweep(chainId: number, olderThanMs: number): void {
    const current = this.sweeps.get(chainId);
    if (current) {
      current.olderThanMs = Math.min(current.olderThanMs, olderThanMs);
      current.again = true;
    } else this.sweeps.set(chainId, { olderThanMs, afterId: FIRST_ID, settled: 0, again: false });
  }

  /**
   * Go on with the sweep under way on `chainId`, if any, for about `budgetMs`: settle from their receipts the intents
   * it reaches, PARALLEL at a time. The sweep never broadcasts (stale `signed` intents have their own check in poll).
   * It ends when a page comes back short (unless it goes round once more, see startSweep); the next tick goes on
   * otherwise.
   */
  private async continueSweep(chainId: number, budgetMs: number): Promise<void> {
    const pass = this.sweeps.get(chainId);
    if (!pass) return;
    const until = Date.now() + budgetMs;
    for (;;) {
      const page = await findInFlight(this.deps.pool, chainId, {
        olderThanMs: pass.olderThanMs,
        afterId: pass.afterId,
        limit: BATCH,
      });
      for (let i = 0; i < page.length; i += PARALLEL) {
        const chunk = page.slice(i, i + PARALLEL);
        pass.settled += await this.settleAll(chunk, { rebroadcast: false });
        pass.afterId = chunk[chunk.length - 1]!.id;
        if (Date.now() >= until) return;
      }
      if (page.length < BATCH && pass.again) {
        pass.again = false; // another sweep was asked for while this one ran: round once more
        pass.afterId = FIRST_ID;
      } else if (page.length < BATCH) {
        this.sweeps.delete(chainId);
        if (pass.settled > 0) this.deps.log.info({ chainId, settled: pass.settled }, 'tracker sweep settled intents');
        return;
      }
    }
  }

  /**
   * Settle `intents` from the receipts of whichever of their transactions were mined: the receipts are looked up
   * concurrently (RECEIPTS_AT_ONCE at a time, one JSON-RPC batch), and what was mined is settled in one batch
   * (13-settle.ts). A `signed` intent none of whose transactions was mined is broadcast again, unless `rebroadcast` is
   * false; one whose lookup failed is left for the next tick. Intents with no receipt found, or whose lookup failed,
   * go in `missed` when it is given. Returns how many were settled.
   */
  private async settleAll(
    intents: readonly IntentRecord[],
    options: {
      rebroadcast: boolean;
      receipts?: ReadonlyMap<string, TransactionReceipt> | null;
      missed?: IntentRecord[];
    } = { rebroadcast: true },
  ): Promise<number> {
    let settled = 0;
    for (let i = 0; i < intents.length; i += RECEIPTS_AT_ONCE) {
      const chunk = intents.slice(i, i + RECEIPTS_AT_ONCE);
      const found = await Promise.all(
        chunk.map(async (intent): Promise<Mined | null | 'unknown'> => {
          // A block's receipts, read at once, answer for intents never replaced; the rest are looked up one by one.
          const receipt = intent.replacements === 0 ? options.receipts?.get(intent.txHash!.toLowerCase()) : undefined;
          return receipt ? { intent, receipt, kind: 'original' as const } : this.findMined(intent);
        }),
      );
      settled += await settleMined(this.deps, found.filter(isMined));
      for (const [j, intent] of chunk.entries()) if (!isMined(found[j]!)) options.missed?.push(intent);
      if (!options.rebroadcast) continue;
      for (const [j, intent] of chunk.entries())
        if (found[j] === null && intent.status === 'signed') await submitSigned(this.deps, intent); // 11-submit.ts
    }
    return settled;
  }

  /**
   * Every receipt of a block, by transaction hash, in one call (`eth_getBlockReceipts`, by the block's hash, so they
   * are that block's); null when the call failed. A chain whose RPC does not have the method is not asked again:
   * its intents' receipts are looked up one by one.
   */
  private async blockReceipts(chainId: number, blockHash: Hex): Promise<Map<string, TransactionReceipt> | null> {
    if (this.noBlockReceipts.has(chainId)) return null;
    try {
      const receipts = await this.deps.chains.client(chainId).getBlockReceipts({ blockHash });
      return new Map(receipts.map((r) => [r.transactionHash.toLowerCase(), r]));
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'MethodNotFoundRpcError' || name === 'MethodNotSupportedRpcError') {
        this.noBlockReceipts.add(chainId);
        this.deps.log.info({ chainId }, 'the RPC has no eth_getBlockReceipts: receipts are looked up one by one');
      }
      return null;
    }
  }

  /**
   * Remember intents a followed block holds whose receipts were not found (or whose lookup failed): the block is not
   * read again, so without this they would wait for the sweep (SWEEP_AFTER_MS).
   */
  private keepForRecheck(chainId: number, missed: readonly IntentRecord[]): void {
    if (missed.length === 0) return;
    const waiting = this.recheck.get(chainId) ?? new Map<string, { intent: IntentRecord; ticks: number }>();
    this.recheck.set(chainId, waiting);
    for (const intent of missed) waiting.set(intent.id, { intent, ticks: 0 });
    this.deps.log.warn(
      { chainId, intentIds: missed.map((i) => i.id) },
      'receipts of transactions in a followed block were not found; looking them up again',
    );
  }

  /** Look up again the receipts {@link keepForRecheck} kept; each is dropped once settled or after RECHECK_TICKS. */
  private async recheckMissed(chainId: number): Promise<void> {
    const waiting = this.recheck.get(chainId);
    if (!waiting || waiting.size === 0) return;
    const missed: IntentRecord[] = [];
    await this.settleAll(
      [...waiting.values()].map((w) => w.intent),
      { rebroadcast: false, missed },
    );
    const still = new Set(missed.map((i) => i.id));
    for (const [id, w] of waiting) {
      w.ticks += 1;
      if (!still.has(id) || w.ticks >= RECHECK_TICKS) waiting.delete(id);
    }
  }

  /** One intent, as {@link settleAll}: true when settled (the reconciler's receipt check). */
  private async checkOne(intent: IntentRecord): Promise<boolean> {
    return (await this.settleAll([intent])) > 0;
  }

  /**
   * The receipt of whichever of the intent's transactions was mined (its current one, or — after a speed-up or
   * cancellation — an earlier one); null when none was, `unknown` when a lookup failed.
   */
  private async findMined(intent: IntentRecord): Promise<Mined | null | 'unknown'> {
    const attempts = intent.replacements > 0 ? await listAttempts(this.deps.pool, intent.id) : [];
    const candidates =
      attempts.length > 0
        ? attempts.map((a) => ({ hash: a.txHash, kind: a.kind }))
        : [{ hash: intent.txHash!, kind: 'original' as const }];
    for (const candidate of candidates) {
      try {
        const receipt = await this.deps.chains
          .client(intent.chainId)
          .getTransactionReceipt({ hash: candidate.hash as Hex });
        return { intent, receipt, kind: candidate.kind };
      } catch (error) {
        if ((error as Error).name !== 'TransactionReceiptNotFoundError') {
          this.deps.log.warn({ err: error, intentId: intent.id }, 'receipt lookup failed');
          return 'unknown';
        }
      }
    }
    return null;
  }

  /**
   * Close the spend of intents that ended while their spend stayed open (a process died between the two writes, or
   * the write failed): released if they never reached the chain, trued up from the receipt if they did.
   */
  async reconcileSpend(): Promise<number> {
    return closeOpenSpend(this.deps, BATCH);
  }
}
