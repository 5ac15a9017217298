import { randomBytes } from 'node:crypto';
import { decryptKeystoreJson, encryptKeystoreJson, Mnemonic } from 'ethers';
import { HDKey } from 'viem/accounts';
import { bytesToHex, hexToBytes, type Address } from 'viem';
import { readConfigText, SignerConfigError } from '../keystore.ts';
import { SigningKey } from '../signing-key.ts';

/** BIP-44 for Ethereum, one address index per agent. Configurable per environment with `--hd-path-template`. */
export const DEFAULT_HD_PATH_TEMPLATE = "m/44'/60'/0'/0/{index}";
const MAX_INDEX = 0x7fffffff;

/** The path for `index` under `template`; the template must hold `{index}` once and give a BIP-32 path. */
export function hdPath(template: string, index: number): string {
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_INDEX)
    throw new SignerConfigError(`HD index ${index} is out of range`);
  validatePathTemplate(template);
  return template.replace('{index}', String(index));
}

export function validatePathTemplate(template: string): void {
  const count = template.split('{index}').length - 1;
  const sample = template.replace('{index}', '0');
  if (count !== 1 || !/^m(\/[0-9]{1,10}'?)+$/.test(sample)) {
    throw new SignerConfigError(
      `HD path template "${template}" must be a BIP-32 path such as m/44'/60'/0'/0/{index} with {index} once`,
    );
  }
}

/**
 * Write an HD wallet: the BIP-39 mnemonic encrypted at rest inside a Web3 Secret Storage v3 keystore (ethers'
 * `x-ethers` mnemonic extension: the mnemonic's entropy is encrypted under the same scrypt-derived key as the private
 * key). A fresh 24-word mnemonic is generated unless `phrase` is given (import). Returns the file text; the caller
 * writes it. The phrase is never returned or printed.
 */
export async function encryptHdWallet(options: {
  password: string;
  phrase?: string;
  scryptN?: number;
  pathTemplate: string;
}): Promise<string> {
  let mnemonic: Mnemonic;
  try {
    mnemonic =
      options.phrase === undefined
        ? Mnemonic.fromEntropy(randomBytes(32))
        : Mnemonic.fromPhrase(options.phrase.trim().replace(/\s+/g, ' '));
  } catch {
    throw new SignerConfigError('the mnemonic is not a valid BIP-39 English phrase');
  }
  const path = hdPath(options.pathTemplate, 0);
  const root = HDKey.fromMasterSeed(hexToBytes(mnemonic.computeSeed() as `0x${string}`));
  const first = root.derive(path);
  const key = new SigningKey(first.privateKey!);
  return encryptKeystoreJson(
    {
      address: key.address,
      privateKey: bytesToHex(first.privateKey!),
      mnemonic: { entropy: mnemonic.entropy, path, locale: 'en' },
    },
    options.password,
    options.scryptN === undefined ? {} : { scrypt: { N: options.scryptN } },
  );
}

/**
 * Decrypt an HD wallet file and derive the keys at `paths`. The seed and the root key are dropped when this returns;
 * only the derived keys (private fields of SigningKey) stay in memory.
 */
export async function deriveHdKeys(file: string, password: string, paths: readonly string[]): Promise<SigningKey[]> {
  const json = readConfigText(file, `HD wallet ${file}`);
  let entropy: string | undefined;
  try {
    entropy = (await decryptKeystoreJson(json, password)).mnemonic?.entropy;
  } catch {
    throw new SignerConfigError(`HD wallet ${file} cannot be decrypted (wrong password or not a v3 keystore)`);
  }
  if (entropy === undefined) throw new SignerConfigError(`HD wallet ${file} holds no mnemonic`);
  const root = HDKey.fromMasterSeed(hexToBytes(Mnemonic.fromEntropy(entropy).computeSeed() as `0x${string}`));
  return paths.map((path) => new SigningKey(root.derive(path).privateKey!, { backend: 'hd', path }));
}

/** The address at `path` (used by the CLI when it derives a new key for an agent). */
export async function deriveHdAddress(file: string, password: string, path: string): Promise<Address> {
  const [key] = await deriveHdKeys(file, password, [path]);
  return key!.address;
}
