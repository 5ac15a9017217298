import { inspect } from 'node:util';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Address, Hex, TransactionSerializableEIP1559 } from 'viem';

const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

/** What the signer says about a key it holds: its id (the checksummed address) and address. Never the key. */
export interface SignerKeyInfo {
  id: Address;
  address: Address;
}

/**
 * One secp256k1 signing key. The private key lives only in a private field: it is not enumerable, not serialised by
 * JSON.stringify, not shown by util.inspect or a logger, and no method returns it.
 */
export class SigningKey {
  readonly id: Address;
  readonly address: Address;
  readonly #account: PrivateKeyAccount;

  constructor(privateKey: Hex) {
    if (typeof privateKey !== 'string' || !PRIVATE_KEY.test(privateKey)) {
      throw new TypeError('a signing key must be 32 bytes of 0x-prefixed hex');
    }
    let account: PrivateKeyAccount;
    try {
      account = privateKeyToAccount(privateKey);
    } catch {
      // Never chain the library error: its message may quote the key.
      throw new TypeError('a signing key is not a valid secp256k1 private key');
    }
    this.#account = account;
    this.address = account.address;
    this.id = account.address;
  }

  /** Sign a validated EIP-1559 transaction; resolves to the signed serialisation. */
  signTransaction(tx: TransactionSerializableEIP1559): Promise<Hex> {
    return this.#account.signTransaction(tx);
  }

  info(): SignerKeyInfo {
    return { id: this.id, address: this.address };
  }

  toJSON(): SignerKeyInfo {
    return this.info();
  }

  [inspect.custom](): string {
    return `SigningKey(${this.address})`;
  }
}
