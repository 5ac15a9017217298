import type pg from 'pg';
import { keccak256, parseTransaction, serializeTransaction, type Address, type Hex } from 'viem';
import { SignerError, type WireTransaction } from '@clawd402/protocol';
import { faultPoint } from '@clawd402/protocol';
import type { NonceMode } from '@clawd402/protocol';
import type { SignerClient, SignTransactionResult, TicketIssuer } from '@clawd402/signer-client';
import type { Logger } from '../domain/logger.ts';
import type { ChainRegistry } from './chain-registry.ts';

/** What signing outside a lane needs. */
export interface SignDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  tickets: TicketIssuer;
  signer: SignerClient;
  log: Logger;
}

/**
 * Ticket, sign, and check that the signer returned exactly the ticketed transaction from `from`. `nonceMode` tells the
 * signer's nonce guard what the transaction is (default: the issuer's, `new` unless it was made `withNonceMode`);
 * `requestId`, the HTTP request that led here, goes to the signer's log line (docs/logging.md).
 */
export async function signTicketed(
  deps: SignDeps,
  intentId: string,
  chainId: number,
  from: Address,
  wire: WireTransaction,
  digest: Hex,
  { nonceMode, requestId }: { nonceMode?: NonceMode; requestId?: string } = {},
): Promise<SignTransactionResult> {
  const ticket = await deps.tickets.issue({
    intentId,
    chainId,
    signerKeyId: from,
    digest,
    ...(nonceMode ? { nonceMode } : {}),
  });
  faultPoint('sign.after_ticket'); // crash tests only (docs/recovery.md)
  const signed = await deps.signer.signTransaction({ ticket, transaction: wire }, { requestId });
  assertSignedAsAsked(signed, from, digest);
  return signed;
}

/**
 * The signer must hand back exactly what the ticket allowed. Belt and braces: a signer that returned a different
 * transaction, or signed with another key, is refused before anything is stored.
 */
export function assertSignedAsAsked(signed: SignTransactionResult, expectedFrom: Address, digest: Hex): void {
  const parsed = parseTransaction(signed.raw);
  const { r: _r, s: _s, v: _v, yParity: _y, ...unsigned } = parsed;
  const ok =
    keccak256(signed.raw) === signed.hash &&
    signed.from.toLowerCase() === expectedFrom.toLowerCase() &&
    parsed.type === 'eip1559' &&
    keccak256(serializeTransaction(unsigned)) === digest;
  if (!ok) throw new SignerError('signer_internal', 'signer returned a transaction other than the one ticketed');
}
