import type pg from 'pg';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import { withTransaction } from '../db/pool.ts';
import type { Logger } from '../domain/logger.ts';
import { transitionIntent } from '../repositories/intents-repository.ts';
import { adjustSpend } from '../repositories/spend-repository.ts';
import { findOpenX402Payments, type OpenX402Payment } from '../repositories/x402-repository.ts';

const AUTHORIZATION_STATE_ABI = [
  {
    type: 'function',
    name: 'authorizationState',
    stateMutability: 'view',
    inputs: [
      { name: 'authorizer', type: 'address' },
      { name: 'nonce', type: 'bytes32' },
    ],
    outputs: [{ type: 'bool' }],
  },
] as const;

const BATCH = 100;
/**
 * A reservation is released only once the latest block is this far past `validBefore`: a block replaced by a
 * reorganisation may carry an earlier timestamp and the transfer with it; released spend never counts again.
 */
export const EXPIRY_MARGIN_SECONDS = 300n;

/**
 * Settling x402 payments (docs/x402.md) — the tracking step of a signed EIP-3009 authorisation, which the gateway
 * never broadcasts itself (the resource's facilitator does). Its reservation stays `reserved` from the decision until:
 *   - the token's `authorizationState(from, nonce)` is true: the transfer happened (or was cancelled by the signer's
 *     own key, which only this gateway holds) → the intent is `confirmed` and its spend `committed`;
 *   - the chain's latest block is at least {@link EXPIRY_MARGIN_SECONDS} past `validBefore` and the nonce is still
 *     unused: the authorisation can never be used → the intent is `expired` and its reservation released (audited as
 *     `intent.x402_expired`).
 * Reads fail safe: an unanswered read leaves the payment reserved (money fails closed) until the next pass.
 */
export class X402Settlement {
  constructor(private readonly deps: { pool: pg.Pool; chains: ChainRegistry; log: Logger }) {}

  /** One pass over the open payments; resolves with how many were settled and expired. */
  async sweep(): Promise<{ settled: number; expired: number }> {
    const open = await findOpenX402Payments(this.deps.pool, BATCH);
    let settled = 0;
    let expired = 0;
    const blockTimes = new Map<number, Promise<bigint>>();
    for (const payment of open) {
      try {
        if (!this.deps.chains.has(payment.chainId)) continue;
        const used = await this.used(payment);
        if (used) {
          if (await this.end(payment, 'confirmed')) settled += 1;
          continue;
        }
        let time = blockTimes.get(payment.chainId);
        if (!time) {
          time = this.deps.chains
            .client(payment.chainId)
            .getBlock({ blockTag: 'latest' })
            .then((b) => b.timestamp);
          blockTimes.set(payment.chainId, time);
        }
        // Used in the block that closes the window? Read once more after seeing the window closed.
        if ((await time) >= payment.validBefore + EXPIRY_MARGIN_SECONDS && !(await this.used(payment))) {
          if (await this.end(payment, 'expired')) expired += 1;
        }
      } catch (error) {
        this.deps.log.warn({ err: error, intentId: payment.id }, 'x402 settlement: could not read the payment state');
      }
    }
    return { settled, expired };
  }

  private used(payment: OpenX402Payment): Promise<boolean> {
    return this.deps.chains.client(payment.chainId).readContract({
      address: payment.token,
      abi: AUTHORIZATION_STATE_ABI,
      functionName: 'authorizationState',
      args: [payment.from, payment.nonce],
    });
  }

  /** The status and the spend move in one transaction: no reader sees `confirmed` with its spend still `reserved`. */
  private end(payment: OpenX402Payment, to: 'confirmed' | 'expired'): Promise<boolean> {
    return withTransaction(this.deps.pool, async (client) => {
      const moved = await transitionIntent(client, payment.id, ['signed'], to, {
        detail: { x402: to === 'confirmed' ? 'settled' : 'expired' },
        audit: {
          actor: 'system:gateway',
          action: to === 'confirmed' ? 'intent.x402_settled' : 'intent.x402_expired',
          subject: `intent:${payment.id}`,
          data: { chainId: payment.chainId, nonce: payment.nonce, validBefore: payment.validBefore.toString() },
        },
      });
      if (!moved) return false;
      await adjustSpend(client, payment.id, to === 'confirmed' ? { to: 'committed' } : { to: 'released' });
      return true;
    });
  }
}
