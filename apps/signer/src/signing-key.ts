import { inspect } from 'node:util';
import { secp256k1 as noble } from '@noble/curves/secp256k1';
import type { WireTypedData } from '@clawd402/protocol';
import {
  getAddress,
  hexToBytes,
  keccak256,
  serializeSignature,
  serializeTransaction,
  type Address,
  type Hex,
  type TransactionSerializableEIP1559,
} from 'viem';
import { isValidPrivateKey, signDigest, type RawSignature } from './keys/secp256k1.ts';
import type { KeyBackendName, SignerKey, SignerKeyInfo } from './keys/signer-key.ts';

export type { SignerKeyInfo } from './keys/signer-key.ts';

const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

/**
 * One secp256k1 key held in this process (a decrypted keystore, an HD-derived key, or one handed in directly). The
 * secret lives only in a private field as bytes: it is not enumerable, not serialised by JSON.stringify, not shown by
 * util.inspect or a logger, and no method returns it. Signing goes through libsecp256k1 where its prebuilt binding
 * loads, @noble/curves otherwise (both RFC 6979, low-s: identical signatures).
 */
export class SigningKey implements SignerKey {
  readonly id: Address;
  readonly address: Address;
  readonly backend: KeyBackendName;
  readonly path: string | null;
  readonly #secret: Uint8Array;

  constructor(privateKey: Hex | Uint8Array, options: { backend?: KeyBackendName; path?: string } = {}) {
    let secret: Uint8Array;
    if (privateKey instanceof Uint8Array) {
      secret = Uint8Array.from(privateKey);
    } else {
      if (typeof privateKey !== 'string' || !PRIVATE_KEY.test(privateKey)) {
        throw new TypeError('a signing key must be 32 bytes of 0x-prefixed hex');
      }
      secret = hexToBytes(privateKey);
    }
    if (!isValidPrivateKey(secret)) {
      // Never chain a library error: its message may quote the key.
      throw new TypeError('a signing key is not a valid secp256k1 private key');
    }
    this.#secret = secret;
    const publicKey = noble.getPublicKey(secret, false);
    this.address = getAddress(`0x${keccak256(publicKey.subarray(1)).slice(-40)}`);
    this.id = this.address;
    this.backend = options.backend ?? 'memory';
    this.path = options.path ?? null;
  }

  /** Sign a 32-byte digest (hex). */
  signDigest(digest: Hex): RawSignature {
    return signDigest(hexToBytes(digest), this.#secret);
  }

  /** Sign a validated EIP-1559 transaction; resolves to the signed serialisation. */
  async signTransaction(
    tx: TransactionSerializableEIP1559,
    digest: Hex = keccak256(serializeTransaction(tx)),
  ): Promise<Hex> {
    return serializeTransaction(tx, this.signDigest(digest));
  }

  async signTypedData(_typedData: WireTypedData, digest: Hex): Promise<Hex> {
    return serializeSignature(this.signDigest(digest));
  }

  async signMessage(_message: Hex, digest: Hex): Promise<Hex> {
    return serializeSignature(this.signDigest(digest));
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
