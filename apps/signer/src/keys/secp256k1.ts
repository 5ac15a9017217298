import { createRequire } from 'node:module';
import { secp256k1 as noble } from '@noble/curves/secp256k1';
import { bytesToHex, type Hex } from 'viem';

/** An ECDSA signature over secp256k1, low-s, with its recovery bit. */
export interface RawSignature {
  r: Hex;
  s: Hex;
  yParity: 0 | 1;
}

interface NativeSecp256k1 {
  ecdsaSign(message: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  privateKeyVerify(privateKey: Uint8Array): boolean;
}

const require = createRequire(import.meta.url);
let native: NativeSecp256k1 | null | undefined;

/**
 * bitcoin-core's libsecp256k1 through the `secp256k1` package's N-API binding (a prebuilt addon shipped inside the npm
 * package), or null where it cannot load (no prebuild for the platform). Both paths sign RFC 6979 deterministic,
 * low-s, so they give byte-identical signatures; the native one is about ten times faster.
 */
export function nativeSecp256k1(): NativeSecp256k1 | null {
  if (native === undefined) {
    try {
      native = require('secp256k1/bindings') as NativeSecp256k1;
    } catch {
      native = null;
    }
  }
  return native;
}

/** Which implementation {@link signDigest} uses in this process. */
export function secp256k1Implementation(): 'libsecp256k1' | 'noble' {
  return nativeSecp256k1() ? 'libsecp256k1' : 'noble';
}

/** Whether 32 bytes are a valid secp256k1 private key (in [1, n-1]). */
export function isValidPrivateKey(key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  const lib = nativeSecp256k1();
  if (lib) return lib.privateKeyVerify(key);
  return noble.utils.isValidPrivateKey(key);
}

/** Sign a 32-byte digest. Neither path ever puts the key in an error message (errors are replaced by our own). */
export function signDigest(digest: Uint8Array, privateKey: Uint8Array): RawSignature {
  const lib = nativeSecp256k1();
  try {
    if (lib) {
      const { signature, recid } = lib.ecdsaSign(digest, privateKey);
      return {
        r: bytesToHex(signature.subarray(0, 32)),
        s: bytesToHex(signature.subarray(32, 64)),
        yParity: recid === 1 ? 1 : 0,
      };
    }
    const sig = noble.sign(digest, privateKey, { lowS: true });
    return {
      r: `0x${sig.r.toString(16).padStart(64, '0')}`,
      s: `0x${sig.s.toString(16).padStart(64, '0')}`,
      yParity: sig.recovery === 1 ? 1 : 0,
    };
  } catch {
    throw new Error('secp256k1 signing failed');
  }
}
