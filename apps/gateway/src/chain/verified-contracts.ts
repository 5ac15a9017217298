import type pg from 'pg';
import type { IntentFacts } from '@clawd402/policy';
import type { NormalizedIntent } from '../domain/intent.ts';
import { listVerifiedContracts } from '../repositories/verified-contracts-repository.ts';

const TTL_MS = 1_000;

/**
 * The registry of contracts operators have verified (Postgres), cached for a second so that a change made through
 * any gateway process applies everywhere within a second. Feeds the `contract_verified` policy fact.
 */
export class VerifiedContracts {
  private cache: { at: number; set: Set<string> } | null = null;
  private loading: Promise<Set<string>> | null = null;

  constructor(private readonly pool: pg.Pool) {}

  invalidate(): void {
    this.cache = null;
  }

  private async set(): Promise<Set<string>> {
    if (this.cache && Date.now() - this.cache.at < TTL_MS) return this.cache.set;
    this.loading ??= listVerifiedContracts(this.pool)
      .then((rows) => {
        const set = new Set(rows.map((r) => `${r.chainId}:${r.address}`));
        this.cache = { at: Date.now(), set };
        return set;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  async isVerified(chainId: number, address: string): Promise<boolean> {
    return (await this.set()).has(`${chainId}:${address}`);
  }

  /** `contractVerified` for the contract an intent calls (contract calls, and the token of an ERC-20 transfer). */
  async facts(intent: NormalizedIntent): Promise<Partial<IntentFacts>> {
    if (intent.type === 'contract_call' || intent.asset !== 'native') {
      return { contractVerified: await this.isVerified(intent.chainId, intent.call.to) };
    }
    return {};
  }
}
