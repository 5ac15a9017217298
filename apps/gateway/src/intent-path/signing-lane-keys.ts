import type { KeyListing, ListKeysResult } from '@clawd402/protocol';

/**
 * How many signing lanes one chain's in-memory keys share in one gateway process. One: a lane signs one batch at a
 * time and the next batch takes everything that queued meanwhile, so under load batches grow instead of transactions
 * multiplying. Measured with 64 agents on 64 keys, 1 lane against 2 and 4: the fewest Postgres commits and the most
 * intents a second (docs/benchmarks.md, seventh round).
 */
export const SHARED_SIGNING_LANES = 1;
/** An address the signer did not list sends the listing to be read again, at most this often. */
const RELIST_AFTER_MS = 5_000;

/**
 * Which signing lane (10-sign.ts) an address's transactions queue on.
 *
 * Keys the signer holds in memory (`keystore`, `hd`, `memory`) sign in well under a millisecond, so the addresses of
 * one chain share {@link SHARED_SIGNING_LANES} lanes: one signing transaction then holds many addresses' intents, and
 * a fleet of agents on their own keys pays the transaction's round trips once per batch instead of once per intent.
 *
 * A Ledger waits for a person at its button, so every Ledger address keeps a lane of its own: its wait never holds
 * another address's batch. So does every address the signer has not listed — a key added since the last listing, or
 * any key while the signer does not answer — until a listing says what it is. The listing is read from the signer when
 * the gateway starts, and again (in the background, at most every 5 s) when an unlisted address is asked for.
 */
export class SigningLaneKeys {
  private backends = new Map<string, KeyListing['backend']>();
  private listedAt = Number.NEGATIVE_INFINITY;
  private listing: Promise<void> | null = null;

  constructor(
    private readonly signer: { listKeys(): Promise<ListKeysResult> },
    private readonly now: () => number = Date.now,
  ) {}

  /** The lane key for transactions of `address` on `chainId`. */
  laneOf(chainId: number, address: string): string {
    const key = address.toLowerCase();
    const backend = this.backends.get(key);
    if (backend === undefined) void this.relist();
    if (backend === undefined || backend === 'ledger') return `${chainId}:${key}`;
    return `${chainId}:shared:${Number.parseInt(key.slice(-6), 16) % SHARED_SIGNING_LANES}`;
  }

  /** Resolves when the listing being read (if any) has been read. */
  listed(): Promise<void> {
    return this.listing ?? Promise.resolve();
  }

  /** Read the signer's key listing again, unless one was read (or asked for) in the last 5 s. A failure keeps the last. */
  relist(): Promise<void> {
    if (this.listing) return this.listing;
    if (this.now() - this.listedAt < RELIST_AFTER_MS) return Promise.resolve();
    this.listedAt = this.now();
    this.listing = (async () => {
      try {
        const { keys } = await this.signer.listKeys();
        this.backends = new Map(keys.map((k) => [k.address.toLowerCase(), k.backend]));
      } catch {
        // The signer does not answer: unlisted addresses keep lanes of their own, and signing itself fails closed.
      } finally {
        this.listing = null;
      }
    })();
    return this.listing;
  }
}
