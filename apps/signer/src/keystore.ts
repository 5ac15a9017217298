import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { decryptKeystoreJson, encryptKeystoreJson } from 'ethers';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Address, Hex } from 'viem';
import { SigningKey } from './signing-key.ts';

/** Refused configuration: the message names the file or flag, never a secret. */
export class SignerConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SignerConfigError';
  }
}

/** The UTF-8 text of a file the signer is configured with; refused as "`what` cannot be read" when it cannot be. */
export function readConfigText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new SignerConfigError(`${what} cannot be read`, { cause });
  }
}

/**
 * Read a password file: its contents with one trailing newline (LF or CRLF) removed. A missing, unreadable or empty
 * file is refused, so an unset password can never silently encrypt or decrypt with "".
 */
export function readPasswordFile(path: string): string {
  const text = readConfigText(path, `password file ${path}`);
  const password = text.replace(/\r?\n$/, '');
  if (password.length === 0) throw new SignerConfigError(`password file ${path} is empty`);
  return password;
}

/** Whether a file can be read or written by group or others (a warning sign for keystores and password files). */
export function isGroupOrWorldAccessible(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false; // missing or unreadable: the read that follows reports it
  }
}

export interface CreateKeystoreOptions {
  /** Where to write the keystore. Refused if it exists: a key is never overwritten. */
  out: string;
  password: string;
  /** scrypt cost; ethers' default (2^17) unless given. Tests use a cheap one such as 1024. */
  scryptN?: number;
}

/**
 * Generate a fresh secp256k1 key and write it as a Web3 Secret Storage v3 keystore, mode 0600. Returns only the
 * address: the key never leaves this function except encrypted.
 */
export async function createKeystoreFile(options: CreateKeystoreOptions): Promise<{ address: Address }> {
  const { scryptN } = options;
  if (scryptN !== undefined && (!Number.isSafeInteger(scryptN) || scryptN < 2 || (scryptN & (scryptN - 1)) !== 0)) {
    throw new SignerConfigError('--scrypt-n must be a power of two');
  }
  if (options.password.length === 0) throw new SignerConfigError('the keystore password is empty');
  const privateKey = generatePrivateKey();
  const { address } = privateKeyToAccount(privateKey);
  const json = await encryptKeystoreJson(
    { address, privateKey },
    options.password,
    scryptN === undefined ? {} : { scrypt: { N: scryptN } },
  );
  try {
    // 'wx': fail if the file exists (never overwrite a key) and do not follow a planted symlink.
    writeFileSync(options.out, json, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new SignerConfigError(
      code === 'EEXIST'
        ? `keystore ${options.out} already exists; refusing to overwrite a key`
        : `keystore ${options.out} cannot be written`,
      { cause },
    );
  }
  chmodSync(options.out, 0o600);
  return { address };
}

/** Decrypt a keystore file into a signing key. A wrong password or a corrupt file is refused without detail. */
export async function loadKeystoreFile(path: string, password: string): Promise<SigningKey> {
  const json = readConfigText(path, `keystore ${path}`);
  let privateKey: string;
  try {
    ({ privateKey } = await decryptKeystoreJson(json, password));
  } catch {
    // No cause: decryption errors are not worth the risk of carrying key-derived state into logs.
    throw new SignerConfigError(`keystore ${path} cannot be decrypted (wrong password or not a v3 keystore)`);
  }
  return new SigningKey(privateKey as Hex, { backend: 'keystore' });
}
