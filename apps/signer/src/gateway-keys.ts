import { createPublicKey, type KeyObject } from 'node:crypto';
import { readConfigText, SignerConfigError } from './keystore.ts';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * Parse the gateway ticket public keys: one or more SPKI PEM blocks (several during a rotation). Anything that is not
 * an Ed25519 public key is refused, including a private key pasted by mistake.
 */
export function parseGatewayPublicKeys(pemText: string, source = 'gateway key'): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const match of pemText.matchAll(PEM_BLOCK)) {
    if (match[1] !== 'PUBLIC KEY') {
      throw new SignerConfigError(`${source} must hold only "PUBLIC KEY" PEM blocks (found "${match[1]}")`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: match[0], format: 'pem' });
    } catch (cause) {
      throw new SignerConfigError(`${source} holds a PEM block that is not a public key`, { cause });
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new SignerConfigError(
        `${source} holds a ${key.asymmetricKeyType ?? 'non-Ed25519'} key; tickets are Ed25519`,
      );
    }
    keys.push(key);
  }
  if (keys.length === 0) throw new SignerConfigError(`${source} holds no PEM public key`);
  return keys;
}

/** Read and parse a gateway key file. */
export function loadGatewayPublicKeys(path: string): KeyObject[] {
  return parseGatewayPublicKeys(readConfigText(path, `gateway key file ${path}`), `gateway key file ${path}`);
}
