import type { Address } from 'viem';

/**
 * The addresses the gateway knows as its own: the keys the signer holds and every agent's signer address. Intent
 * hygiene asks it whether a 64-hex string in a memo is the private key of one of them (intent-hygiene.ts,
 * `leaksKnownKey`). Loaded lazily, kept for `maxAgeMs`, loaded again on the first question after that (one load at a
 * time); a failed load is thrown to the caller, so an intent whose memo cannot be checked is refused (fails closed).
 */
export class KnownAddresses {
  private known: Set<string> | null = null;
  private loadedAt = 0;
  private loading: Promise<Set<string>> | null = null;

  constructor(
    private readonly load: () => Promise<Iterable<string>>,
    private readonly options: { maxAgeMs?: number; clock?: () => number } = {},
  ) {}

  /** Whether `address` (any case) is known. */
  async has(address: Address): Promise<boolean> {
    return (await this.current()).has(address.toLowerCase());
  }

  private async current(): Promise<Set<string>> {
    const now = (this.options.clock ?? Date.now)();
    if (this.known && now - this.loadedAt < (this.options.maxAgeMs ?? 30_000)) return this.known;
    this.loading ??= this.load()
      .then((addresses) => {
        this.known = new Set([...addresses].map((a) => a.toLowerCase()));
        this.loadedAt = now;
        return this.known;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }
}
