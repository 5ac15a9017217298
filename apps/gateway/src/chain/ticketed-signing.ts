import type pg from 'pg';
import { concatHex, fromRlp, keccak256, toRlp, type Address, type Hex } from 'viem';
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

/** Fields of a signed EIP-1559 transaction's RLP list: the nine signed over, then yParity, r and s. */
const EIP1559_FIELDS = 9;
const EIP1559_SIGNED_FIELDS = 12;

/**
 * The signer must hand back exactly what the ticket allowed. Belt and braces: a signer that returned a different
 * transaction, or said it signed with another key (`from`), is refused before anything is stored. The signature is not
 * recovered here: which key signs is the signer's own check, against the ticket's `kid` (ticket-verifier.ts).
 *
 * `raw` is `0x02 ‖ rlp([nine fields, yParity, r, s])` and the ticketed digest is `keccak256(0x02 ‖ rlp([nine
 * fields]))`, so the check reads the RLP list, requires exactly twelve items of which the last three are strings,
 * requires that list to encode back to `raw` byte for byte (nothing trailing, nothing non-canonical), and hashes its
 * first nine items re-encoded against the digest. That is the same check as parsing the transaction and serialising
 * it again, at half the CPU and without the parsed object. `hash` = keccak256(raw) is checked by the signer client
 * as it reads the answer (signer-client.ts).
 */
export function assertSignedAsAsked(signed: SignTransactionResult, expectedFrom: Address, digest: Hex): void {
  if (!isTicketed(signed.raw, digest) || signed.from.toLowerCase() !== expectedFrom.toLowerCase())
    throw new SignerError('signer_internal', 'signer returned a transaction other than the one ticketed');
}

function isTicketed(raw: Hex, digest: Hex): boolean {
  if (!raw.startsWith('0x02')) return false;
  const list: Hex = `0x${raw.slice(4).toLowerCase()}`;
  let items: ReturnType<typeof fromRlp<'hex'>>;
  try {
    items = fromRlp(list, 'hex');
  } catch {
    return false;
  }
  return (
    Array.isArray(items) &&
    items.length === EIP1559_SIGNED_FIELDS &&
    items.slice(EIP1559_FIELDS).every((item) => typeof item === 'string') &&
    toRlp(items) === list &&
    keccak256(concatHex(['0x02', toRlp(items.slice(0, EIP1559_FIELDS))])) === digest.toLowerCase()
  );
}
