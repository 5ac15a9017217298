import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** A freshly generated gateway ticket key pair, PEM-encoded. */
export interface TicketKeyPair {
  /** PKCS#8 PEM of the Ed25519 private key. Stays with the gateway; never sent to the signer. */
  privateKeyPem: string;
  /** SPKI PEM of the Ed25519 public key: what the signer's `--gateway-key` file holds. */
  publicKeyPem: string;
}

/**
 * Generate an Ed25519 key pair for signing tickets.
 *
 * @example
 * const { privateKeyPem, publicKeyPem } = generateTicketKeyPair();
 * writeFileSync('gateway-ticket.pub', publicKeyPem); // give this to the signer
 */
export function generateTicketKeyPair(): TicketKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/**
 * Load an Ed25519 ticket private key from PEM (PKCS#8). Refuses any other key type, so a mistakenly configured RSA or
 * EC key fails at boot rather than producing tickets every signer rejects.
 */
export function loadTicketPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    // The PEM is a secret: the error says what is wrong without quoting it.
    throw new TypeError('the ticket private key is not a PEM private key', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`the ticket private key must be Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}
