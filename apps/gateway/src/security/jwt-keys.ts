import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** Smallest RSA modulus accepted for access-token keys, current or previous. */
export const MIN_RSA_BITS = 2048;

/** The public members of an RSA JWK, as published in the JWKS. */
export interface RsaPublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END \1-----/g;

/**
 * Load the current signing key: an RSA private key in PEM, at least 2048 bits. Throws a TypeError naming the
 * problem; the caller (config, app start-up) turns it into a boot failure.
 */
export function loadRsaPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  assertRsa(key, 'JWT signing key');
  return key;
}

/**
 * Load a previous (rotated-out) verification key: an RSA public key in SPKI PEM (`BEGIN PUBLIC KEY`). A private key
 * is refused rather than silently reduced to its public half: it does not belong in a list of public keys.
 */
export function loadRsaPublicKey(pem: string): KeyObject {
  if (!/^\s*-----BEGIN PUBLIC KEY-----/.test(pem))
    throw new TypeError('previous JWT key must be an SPKI PEM (-----BEGIN PUBLIC KEY-----)');
  const key = createPublicKey(pem);
  assertRsa(key, 'previous JWT key');
  return key;
}

function assertRsa(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'rsa')
    throw new TypeError(`${what} must be an RSA key (got ${key.asymmetricKeyType ?? 'unknown'})`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw new TypeError(`${what} has ${bits} bits; at least ${MIN_RSA_BITS} are required`);
}

/** `{kty, n, e}` of an RSA public (or private) key; never any private member. */
export function rsaPublicJwk(key: KeyObject): RsaPublicJwk {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string')
    throw new TypeError('not an RSA key');
  return { kty: 'RSA', n: jwk.n, e: jwk.e };
}

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA key: the hash of `{"e":…,"kty":"RSA","n":…}` with the
 * required members in lexicographic order and no whitespace. Equal to jose's `calculateJwkThumbprint(jwk)`.
 */
export function rsaJwkThumbprint(key: KeyObject): string {
  const { n, e } = rsaPublicJwk(key);
  return createHash('sha256')
    .update(JSON.stringify({ e, kty: 'RSA', n }))
    .digest('base64url');
}

/**
 * Split the text of a key file into its PEM blocks. The file holds zero or more `BEGIN PUBLIC KEY` blocks separated
 * by whitespace; any other block type or any other text is refused (a TypeError), so a private key or a truncated
 * paste never goes unnoticed. An empty file gives an empty list.
 *
 * @example
 * parseSpkiPemBlocks(readFileSync(path, 'utf8')); // ['-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----', …]
 */
export function parseSpkiPemBlocks(text: string): string[] {
  const blocks: string[] = [];
  let rest = text;
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (match[1] !== 'PUBLIC KEY') throw new TypeError(`expected only PUBLIC KEY PEM blocks, found ${match[1]}`);
    blocks.push(match[0]);
    rest = rest.replace(match[0], '');
  }
  if (rest.trim() !== '') throw new TypeError('text outside PEM blocks, or a malformed PEM block');
  return blocks;
}
