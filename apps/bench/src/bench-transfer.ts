import type { Address } from 'viem';
import { fromWireTransaction, toWireTransaction, transactionDigest, type WireTransaction } from '@clawd402/protocol';
import type { TicketIssuer } from '@clawd402/signer-client';

/** The transaction the signing benches sign: 1 wei to `to` on the dev chain (31337), 21,000 gas, fixed fees, as wire. */
export function benchTransfer(nonce: number, to: Address): WireTransaction {
  return toWireTransaction({
    chainId: 31337,
    nonce,
    to,
    value: 1n,
    data: '0x',
    gas: 21_000n,
    maxFeePerGas: 2_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  });
}

/** A bench transfer with the ticket that lets `signer` sign it for `intentId`. */
export async function ticketedBenchTransfer(
  issuer: TicketIssuer,
  signer: Address,
  intentId: string,
  nonce: number,
  to: Address,
): Promise<{ ticket: string; transaction: WireTransaction }> {
  const transaction = benchTransfer(nonce, to);
  const digest = transactionDigest(fromWireTransaction(transaction));
  const ticket = await issuer.issue({ intentId, chainId: 31337, signerKeyId: signer, digest });
  return { ticket, transaction };
}
