import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { decryptKeystoreJson, encryptKeystoreJson } from 'ethers';
import { generatePrivateKey } from 'viem/accounts';
import { getAddress, type Address, type Hex } from 'viem';
import { loadKeystoreFile, readConfigText, SignerConfigError } from '../keystore.ts';
import { SigningKey } from '../signing-key.ts';
import { DEFAULT_HD_PATH_TEMPLATE, deriveHdKeys, encryptHdWallet, hdPath, validatePathTemplate } from './hd-wallet.ts';
import { LedgerKey, type LedgerDevice } from './ledger-key.ts';
import type { SignerKey } from './signer-key.ts';

/**
 * A signer key directory (mode 0700):
 *
 *   keys.json            metadata: every key's id, address, backend, label, agent, created, state, rotation links
 *   keystores/0x….json   one Web3 Secret Storage v3 keystore per `keystore` key (mode 0600)
 *   hd/<wallet>.json     one encrypted BIP-39 mnemonic per HD wallet (v3 keystore with ethers' mnemonic extension)
 *
 * Ledger keys have only metadata (path and address): the secret never leaves the device. One password (the signer's
 * password file) encrypts every keystore and wallet in the directory. Metadata is written atomically (temporary file,
 * fsync, rename) under a lock file, so two CLI runs cannot interleave.
 */
export const METADATA_FILE = 'keys.json';
const LOCK_FILE = 'keys.lock';

export type StoredBackend = 'keystore' | 'hd' | 'ledger';
export type KeyState = 'active' | 'cancel_only';

export interface KeyRecord {
  id: Address;
  address: Address;
  backend: StoredBackend;
  /** Keystore file, relative to the directory (`keystore` keys). */
  file: string | null;
  /** HD wallet name and address index (`hd` keys). */
  wallet: string | null;
  index: number | null;
  /** BIP-32 path (`hd` and `ledger` keys). */
  path: string | null;
  label: string | null;
  agent: string | null;
  created: string;
  state: KeyState;
  rotatedTo: Address | null;
  rotatedFrom: Address | null;
}

export interface WalletRecord {
  name: string;
  file: string;
  pathTemplate: string;
  nextIndex: number;
  created: string;
}

export interface KeyDirectoryData {
  version: 1;
  keys: KeyRecord[];
  wallets: WalletRecord[];
}

const WALLET_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Read the metadata; an absent directory or file is an empty directory. */
export function readKeyDirectory(dir: string): KeyDirectoryData {
  const file = join(dir, METADATA_FILE);
  if (!existsSync(file)) return { version: 1, keys: [], wallets: [] };
  let data: KeyDirectoryData;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as KeyDirectoryData;
  } catch (cause) {
    throw new SignerConfigError(`key directory metadata ${file} cannot be read`, { cause });
  }
  if (data?.version !== 1 || !Array.isArray(data.keys) || !Array.isArray(data.wallets)) {
    throw new SignerConfigError(`key directory metadata ${file} is not a version 1 key directory`);
  }
  return data;
}

function ensureDirectory(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const sub of ['keystores', 'hd']) {
    const path = join(dir, sub);
    if (!existsSync(path)) mkdirSync(path, { mode: 0o700 });
  }
}

/** Write a file that must not exist yet, mode 0600, and fsync it. */
function writeNewSecretFile(path: string, text: string): void {
  try {
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    throw new SignerConfigError(`${path} cannot be written (it may exist already; keys are never overwritten)`, {
      cause,
    });
  }
  const fd = openSync(path, 'r');
  fsyncSync(fd);
  closeSync(fd);
}

function writeMetadata(dir: string, data: KeyDirectoryData): void {
  const file = join(dir, METADATA_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  writeFileSync(temp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  const fd = openSync(temp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, file);
  const dirFd = openSync(dir, 'r');
  fsyncSync(dirFd);
  closeSync(dirFd);
}

/** Run `fn` on the metadata under the directory's lock and write what it returns. */
async function mutate<T>(dir: string, fn: (data: KeyDirectoryData) => Promise<T>): Promise<T> {
  ensureDirectory(dir);
  const lock = join(dir, LOCK_FILE);
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
  } catch {
    throw new SignerConfigError(`${lock} exists: another key command is running (remove the file if it is not)`);
  }
  try {
    const data = readKeyDirectory(dir);
    const result = await fn(data);
    writeMetadata(dir, data);
    return result;
  } finally {
    rmSync(lock, { force: true });
  }
}

function findKey(data: KeyDirectoryData, id: string): KeyRecord {
  const record = data.keys.find((k) => k.id.toLowerCase() === id.toLowerCase());
  if (!record) throw new SignerConfigError(`no key ${id} in the key directory`);
  return record;
}

function addRecord(data: KeyDirectoryData, record: KeyRecord): KeyRecord {
  if (data.keys.some((k) => k.address === record.address))
    throw new SignerConfigError(`key ${record.address} is already in the key directory`);
  data.keys.push(record);
  return record;
}

function newRecord(fields: Pick<KeyRecord, 'address' | 'backend'> & Partial<KeyRecord>): KeyRecord {
  return {
    id: fields.address,
    address: fields.address,
    backend: fields.backend,
    file: fields.file ?? null,
    wallet: fields.wallet ?? null,
    index: fields.index ?? null,
    path: fields.path ?? null,
    label: fields.label ?? null,
    agent: fields.agent ?? null,
    created: new Date().toISOString(),
    state: 'active',
    rotatedTo: null,
    rotatedFrom: fields.rotatedFrom ?? null,
  };
}

export interface NewKeyOptions {
  password: string;
  label?: string;
  agent?: string;
  /** scrypt cost for new keystores and wallets; ethers' default 2^17 unless given (tests use 1024). */
  scryptN?: number;
}

async function storeKeystore(
  dir: string,
  data: KeyDirectoryData,
  privateKey: Hex,
  options: NewKeyOptions,
  rotatedFrom?: Address,
): Promise<KeyRecord> {
  const key = new SigningKey(privateKey);
  const file = join('keystores', `${key.address}.json`);
  const json = await encryptKeystoreJson(
    { address: key.address, privateKey },
    options.password,
    options.scryptN === undefined ? {} : { scrypt: { N: options.scryptN } },
  );
  if (data.keys.some((k) => k.address === key.address))
    throw new SignerConfigError(`key ${key.address} is already in the key directory`);
  writeNewSecretFile(join(dir, file), json);
  return addRecord(
    data,
    newRecord({
      address: key.address,
      backend: 'keystore',
      file,
      label: options.label,
      agent: options.agent,
      rotatedFrom,
    }),
  );
}

async function deriveNext(
  dir: string,
  data: KeyDirectoryData,
  wallet: WalletRecord,
  options: NewKeyOptions,
  rotatedFrom?: Address,
): Promise<KeyRecord> {
  const index = wallet.nextIndex;
  const path = hdPath(wallet.pathTemplate, index);
  const [key] = await deriveHdKeys(join(dir, wallet.file), options.password, [path]);
  wallet.nextIndex = index + 1;
  return addRecord(
    data,
    newRecord({
      address: key!.address,
      backend: 'hd',
      wallet: wallet.name,
      index,
      path,
      label: options.label,
      agent: options.agent,
      rotatedFrom,
    }),
  );
}

async function createWallet(
  dir: string,
  data: KeyDirectoryData,
  name: string,
  options: NewKeyOptions & { phrase?: string; pathTemplate?: string },
): Promise<WalletRecord> {
  if (!WALLET_NAME.test(name))
    throw new SignerConfigError(
      `HD wallet name "${name}" must be 1-64 of a-z 0-9 _ - (starting with a letter or digit)`,
    );
  if (data.wallets.some((w) => w.name === name)) throw new SignerConfigError(`HD wallet ${name} already exists`);
  const pathTemplate = options.pathTemplate ?? DEFAULT_HD_PATH_TEMPLATE;
  validatePathTemplate(pathTemplate);
  const file = join('hd', `${name}.json`);
  const json = await encryptHdWallet({
    password: options.password,
    pathTemplate,
    ...(options.phrase === undefined ? {} : { phrase: options.phrase }),
    ...(options.scryptN === undefined ? {} : { scryptN: options.scryptN }),
  });
  writeNewSecretFile(join(dir, file), json);
  const wallet: WalletRecord = { name, file, pathTemplate, nextIndex: 0, created: new Date().toISOString() };
  data.wallets.push(wallet);
  return wallet;
}

/**
 * `keys generate`: a fresh random key in its own keystore, or, with `hdWallet`, the next address index of that HD
 * wallet (created with a fresh mnemonic if it does not exist), so each agent gets its own path.
 */
export function generateKey(
  dir: string,
  options: NewKeyOptions & { hdWallet?: string; pathTemplate?: string },
): Promise<KeyRecord> {
  return mutate(dir, async (data) => {
    if (options.hdWallet === undefined) return storeKeystore(dir, data, generatePrivateKey(), options);
    const wallet =
      data.wallets.find((w) => w.name === options.hdWallet) ??
      (await createWallet(dir, data, options.hdWallet, options));
    if (options.pathTemplate !== undefined && options.pathTemplate !== wallet.pathTemplate) {
      throw new SignerConfigError(`HD wallet ${wallet.name} uses the path template ${wallet.pathTemplate}`);
    }
    return deriveNext(dir, data, wallet, options);
  });
}

export type ImportSource =
  | { keystoreFile: string; keystorePassword: string }
  | { privateKeyFile: string }
  | { mnemonicFile: string; hdWallet: string; pathTemplate?: string };

function readSecretText(path: string, what: string): string {
  return readConfigText(path, `${what} file ${path}`).trim();
}

/**
 * `keys import`: an existing v3 keystore (re-encrypted under the directory's password), a private key from a file
 * (0x-hex), or a BIP-39 mnemonic from a file (a new HD wallet; its first index becomes a key). Secrets come only from
 * files, never from argv or the environment.
 */
export function importKey(dir: string, source: ImportSource, options: NewKeyOptions): Promise<KeyRecord> {
  return mutate(dir, async (data) => {
    if ('mnemonicFile' in source) {
      const phrase = readSecretText(source.mnemonicFile, 'mnemonic');
      const wallet = await createWallet(dir, data, source.hdWallet, {
        ...options,
        phrase,
        ...(source.pathTemplate === undefined ? {} : { pathTemplate: source.pathTemplate }),
      });
      return deriveNext(dir, data, wallet, options);
    }
    let privateKey: string;
    if ('keystoreFile' in source) {
      const json = readSecretText(source.keystoreFile, 'keystore');
      try {
        ({ privateKey } = await decryptKeystoreJson(json, source.keystorePassword));
      } catch {
        throw new SignerConfigError(
          `keystore ${source.keystoreFile} cannot be decrypted (wrong password or not a v3 keystore)`,
        );
      }
    } else {
      privateKey = readSecretText(source.privateKeyFile, 'private key');
      if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey))
        throw new SignerConfigError(`${source.privateKeyFile} does not hold a 0x-prefixed 32-byte hex private key`);
    }
    try {
      return await storeKeystore(dir, data, privateKey.toLowerCase() as Hex, options);
    } catch (error) {
      if (error instanceof SignerConfigError) throw error;
      throw new SignerConfigError('the imported key is not a valid secp256k1 private key');
    }
  });
}

/** `keys add-ledger`: record a Ledger key (its address as the device reported it, after the person confirmed it). */
export function addLedgerKey(
  dir: string,
  options: { address: Address; path: string; label?: string; agent?: string },
): Promise<KeyRecord> {
  return mutate(dir, async (data) =>
    addRecord(
      data,
      newRecord({
        address: getAddress(options.address),
        backend: 'ledger',
        path: options.path,
        label: options.label,
        agent: options.agent,
      }),
    ),
  );
}

/** `keys assign`: the agent a key signs for (null to unassign). */
export function assignKey(dir: string, options: { key: string; agent: string | null }): Promise<KeyRecord> {
  return mutate(dir, async (data) => {
    const record = findKey(data, options.key);
    if (record.state !== 'active')
      throw new SignerConfigError(`key ${record.id} was rotated out; assign its successor ${record.rotatedTo} instead`);
    record.agent = options.agent;
    return record;
  });
}

/**
 * `keys rotate`: a new key of the same kind takes over (same agent and label; for HD, the wallet's next index; for a
 * Ledger, the given path and device-confirmed address) and the old one becomes `cancel_only`: from then on the signer
 * lets it sign only zero-value self-transfers, to cancel what it left pending. The new key inherits the old one's
 * signer policy entry and its rolling-day spend, unless the policy names the new key itself.
 */
export function rotateKey(
  dir: string,
  options: NewKeyOptions & { key: string; ledger?: { address: Address; path: string } },
): Promise<{ old: KeyRecord; new: KeyRecord }> {
  return mutate(dir, async (data) => {
    const old = findKey(data, options.key);
    if (old.state !== 'active') throw new SignerConfigError(`key ${old.id} was already rotated to ${old.rotatedTo}`);
    const inherit = { ...options, label: options.label ?? old.label ?? undefined, agent: old.agent ?? undefined };
    let fresh: KeyRecord;
    if (old.backend === 'keystore') {
      fresh = await storeKeystore(dir, data, generatePrivateKey(), inherit, old.id);
    } else if (old.backend === 'hd') {
      const wallet = data.wallets.find((w) => w.name === old.wallet);
      if (!wallet) throw new SignerConfigError(`HD wallet ${old.wallet} of key ${old.id} is missing`);
      fresh = await deriveNext(dir, data, wallet, inherit, old.id);
    } else {
      if (!options.ledger)
        throw new SignerConfigError('rotating a Ledger key needs the new key on the device (--path)');
      fresh = addRecord(
        data,
        newRecord({
          address: getAddress(options.ledger.address),
          backend: 'ledger',
          path: options.ledger.path,
          label: inherit.label,
          agent: inherit.agent,
          rotatedFrom: old.id,
        }),
      );
    }
    old.state = 'cancel_only';
    old.rotatedTo = fresh.id;
    return { old: { ...old }, new: fresh };
  });
}

/**
 * Load every key of the directory for serving: decrypt keystores, derive HD keys (checking each derives to its
 * recorded address), and set up Ledger keys (no device contact until a signature is asked for).
 */
export async function loadKeyDirectory(
  dir: string,
  password: string,
  device: () => LedgerDevice,
): Promise<{ keys: SignerKey[]; records: KeyRecord[] }> {
  if (!existsSync(join(dir, METADATA_FILE)))
    throw new SignerConfigError(
      `${dir} is not a key directory (no ${METADATA_FILE}); create keys with "keys generate"`,
    );
  if ((statSync(dir).mode & 0o077) !== 0)
    throw new SignerConfigError(`key directory ${dir} is accessible by group or others; chmod 700 it`);
  const data = readKeyDirectory(dir);
  const keys: SignerKey[] = [];
  for (const record of data.keys) {
    if (record.backend === 'keystore') {
      const key = await loadKeystoreFile(join(dir, record.file ?? ''), password);
      if (key.address !== record.address)
        throw new SignerConfigError(`keystore ${record.file} does not hold key ${record.address}`);
      keys.push(key);
    } else if (record.backend === 'ledger') {
      if (!record.path) throw new SignerConfigError(`Ledger key ${record.address} has no path`);
      keys.push(new LedgerKey({ address: record.address, path: record.path, device: device() }));
    }
  }
  for (const wallet of data.wallets) {
    const records = data.keys.filter((k) => k.backend === 'hd' && k.wallet === wallet.name);
    if (records.length === 0) continue;
    const derived = await deriveHdKeys(
      join(dir, wallet.file),
      password,
      records.map((r) => r.path ?? ''),
    );
    derived.forEach((key, i) => {
      if (key.address !== records[i]!.address)
        throw new SignerConfigError(
          `HD wallet ${wallet.name} does not derive ${records[i]!.address} at ${records[i]!.path}`,
        );
      keys.push(key);
    });
  }
  return { keys, records: data.keys };
}
