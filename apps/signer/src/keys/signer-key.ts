import type { WireTypedData } from '@clawd402/protocol';
import type { Address, Hex, TransactionSerializableEIP1559 } from 'viem';

/** Where a key's secret lives. `memory`: handed to `startSigner` directly (tests, benchmarks). */
export type KeyBackendName = 'keystore' | 'hd' | 'ledger' | 'memory';

/** What the signer says about a key it holds: its id (the checksummed address) and address. Never the key. */
export interface SignerKeyInfo {
  id: Address;
  address: Address;
}

/**
 * One signing key, whatever holds its secret. The request handler calls these only after the ticket, the digest and
 * the signer's own policy have been checked and the ticket and spend recorded; `digest` is the signer's own hash of
 * the payload (never one it was told).
 */
export interface SignerKey {
  readonly id: Address;
  readonly address: Address;
  readonly backend: KeyBackendName;
  /** BIP-32 path for `hd` and `ledger` keys. */
  readonly path: string | null;
  info(): SignerKeyInfo;
  /** Resolves to the signed serialised EIP-1559 transaction. `digest` is `transactionDigest(tx)`. */
  signTransaction(tx: TransactionSerializableEIP1559, digest: Hex): Promise<Hex>;
  /** Resolves to the 65-byte signature (v = 27/28). `digest` is `typedDataDigest(typedData)`. */
  signTypedData(typedData: WireTypedData, digest: Hex): Promise<Hex>;
  /** Resolves to the 65-byte signature (v = 27/28). `digest` is `messageDigest(message)`. */
  signMessage(message: Hex, digest: Hex): Promise<Hex>;
}
