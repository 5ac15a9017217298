import { inspect } from 'node:util';
import { SignerError, type WireTypedData } from '@clawd402/protocol';
import {
  getAddress,
  getTypesForEIP712Domain,
  hashDomain,
  hashStruct,
  recoverAddress,
  serializeSignature,
  serializeTransaction,
  type Address,
  type Hex,
  type TransactionSerializableEIP1559,
} from 'viem';
import type { Logger } from 'pino';
import type { SignerKey, SignerKeyInfo } from './signer-key.ts';

/**
 * The part of `@ledgerhq/hw-transport`'s Transport the signer uses. The device backend loads `@ledgerhq/hw-app-eth`
 * and `@ledgerhq/hw-transport-node-hid` lazily, so a machine without a Ledger (or without libusb/hidraw) still runs the
 * signer, and tests hand in `@ledgerhq/hw-transport-mocker`'s replayer instead.
 */
export interface LedgerTransport {
  close(): Promise<void>;
  exchange(apdu: Buffer): Promise<Buffer>;
}
export type LedgerTransportFactory = () => Promise<LedgerTransport>;

/** Default time a signature may wait for the device (including the person pressing the buttons). */
export const DEFAULT_DEVICE_TIMEOUT_MS = 120_000;

/** Ledger status words the signer tells apart (ISO 7816 SW1SW2 as the Ethereum app answers them). */
export const LEDGER_STATUS = {
  /** "Condition of use not satisfied": the person declined on the device. */
  DENIED: 0x6985,
  /** The device is locked (PIN not entered). */
  LOCKED: 0x5515,
  /** Instruction not supported (e.g. full EIP-712 on an old app). */
  INS_NOT_SUPPORTED: 0x6d00,
} as const;

/** hw-app-eth's resolution services reach Ledger's CDN and CAL; the signer has no network, so all are off. */
const OFFLINE_LOAD_CONFIG = {
  nftExplorerBaseURL: null,
  pluginBaseURL: null,
  extraPlugins: null,
  cryptoassetsBaseURL: null,
  calServiceURL: null,
};

interface EthApp {
  signTransaction(path: string, rawTxHex: string, resolution: null): Promise<{ v: string; r: string; s: string }>;
  signPersonalMessage(path: string, messageHex: string): Promise<{ v: number; r: string; s: string }>;
  signEIP712Message(path: string, message: unknown): Promise<{ v: number; r: string; s: string }>;
  signEIP712HashedMessage(
    path: string,
    domainSeparatorHex: string,
    hashStructMessageHex: string,
  ): Promise<{ v: number; r: string; s: string }>;
  getAddress(
    path: string,
    display?: boolean,
    chaincode?: boolean,
    chainId?: string,
  ): Promise<{ address: string; publicKey: string }>;
}
type EthConstructor = new (transport: LedgerTransport, scrambleKey?: string, loadConfig?: object) => EthApp;

let ethModule: Promise<EthConstructor> | undefined;
function loadEthApp(): Promise<EthConstructor> {
  ethModule ??= import('@ledgerhq/hw-app-eth').then(
    (m) => ((m as { default?: unknown }).default ?? m) as EthConstructor,
  );
  return ethModule;
}

/**
 * Open the first Ledger on USB HID. Any failure (the optional package or its native addon missing, no device, a
 * device held by another program) is `device_unavailable`.
 */
export const openNodeHidTransport: LedgerTransportFactory = async () => {
  let Transport: { list(): Promise<string[]>; open(path: string): Promise<LedgerTransport> };
  try {
    const mod = (await import('@ledgerhq/hw-transport-node-hid')) as unknown as { default: typeof Transport };
    Transport = mod.default;
  } catch {
    throw new SignerError('device_unavailable');
  }
  let paths: string[];
  try {
    paths = await Transport.list();
  } catch {
    throw new SignerError('device_unavailable');
  }
  if (paths.length === 0) throw new SignerError('device_unavailable');
  try {
    return await Transport.open(paths[0]!);
  } catch {
    throw new SignerError('device_unavailable');
  }
};

export interface LedgerDeviceOptions {
  /** How to reach the device; default: the first Ledger on USB HID. */
  transport?: LedgerTransportFactory;
  /** How long one operation may wait for the device, in ms. Default {@link DEFAULT_DEVICE_TIMEOUT_MS}. */
  timeoutMs?: number;
  logger?: Logger;
}

/**
 * One Ledger. A device does one thing at a time, so operations are queued. Each opens the transport, runs, and closes
 * it, bounded by a timeout that covers the person confirming on the device. Failures become catalogue codes:
 * `device_unavailable` (cannot open), `device_locked` (0x5515), `device_rejected` (0x6985), `device_timeout`,
 * `device_error` (any other status word, such as the Ethereum app not being open).
 */
export class LedgerDevice {
  readonly timeoutMs: number;
  readonly #open: LedgerTransportFactory;
  readonly #logger: Logger | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: LedgerDeviceOptions = {}) {
    this.#open = options.transport ?? openNodeHidTransport;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DEVICE_TIMEOUT_MS;
    this.#logger = options.logger;
  }

  run<T>(operation: string, fn: (eth: EthApp) => Promise<T>): Promise<T> {
    const next = this.#queue.then(() => this.#runNow(operation, fn));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #runNow<T>(operation: string, fn: (eth: EthApp) => Promise<T>): Promise<T> {
    let transport: LedgerTransport | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SignerError('device_timeout')), this.timeoutMs);
    });
    try {
      const work = (async () => {
        try {
          transport = await this.#open();
        } catch (error) {
          throw error instanceof SignerError ? error : new SignerError('device_unavailable');
        }
        const Eth = await loadEthApp();
        return fn(new Eth(transport, 'w0w', OFFLINE_LOAD_CONFIG));
      })();
      work.catch(() => undefined); // a late failure after a timeout is not unhandled
      return await Promise.race([work, timedOut]);
    } catch (error) {
      const mapped = deviceError(error);
      this.#logger?.warn({ operation, code: mapped.code, statusCode: statusOf(error) }, 'ledger operation failed');
      throw mapped;
    } finally {
      clearTimeout(timer);
      // Closing also aborts an exchange still waiting for the person on a timeout.
      await transport?.close().catch(() => undefined);
    }
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Map whatever the transport or hw-app-eth threw to a catalogue code; messages are never passed on. */
export function deviceError(error: unknown): SignerError {
  if (error instanceof SignerError) return error;
  const status = statusOf(error);
  if (status === LEDGER_STATUS.DENIED) return new SignerError('device_rejected');
  if (status === LEDGER_STATUS.LOCKED) return new SignerError('device_locked');
  if (status !== undefined) return new SignerError('device_error');
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'LockedDeviceError') return new SignerError('device_locked');
  if (
    typeof name === 'string' &&
    /Disconnected|NoDevice|CantOpen|TransportInterfaceNotAvailable|TransportOpenUserCancelled/.test(name)
  ) {
    return new SignerError('device_unavailable');
  }
  return new SignerError('device_error');
}

/** "m/44'/60'/0'/0/3" → "44'/60'/0'/0/3", as hw-app-eth takes it. */
function devicePath(path: string): string {
  return path.startsWith('m/') ? path.slice(2) : path;
}

function hex0x(value: string): Hex {
  return (value.startsWith('0x') ? value : `0x${value}`) as Hex;
}

/**
 * Ask the device for the address at `path`. With `display`, the device shows it and waits for the person to confirm
 * (`keys add-ledger` does this so the operator checks the address on the device's screen, not on ours).
 */
export async function ledgerAddress(
  device: LedgerDevice,
  path: string,
  options: { display?: boolean; chainId?: number } = {},
): Promise<Address> {
  const { address } = await device.run('get_address', (eth) =>
    eth.getAddress(
      devicePath(path),
      options.display ?? false,
      false,
      options.chainId === undefined ? undefined : String(options.chainId),
    ),
  );
  return getAddress(address);
}

/**
 * A key that lives on a Ledger. The signer knows only its path and address (from the key directory); every signature
 * goes to the device, waits for confirmation there, and is checked to recover to the configured address before it is
 * returned (a different device or seed plugged in is `device_key_mismatch`, never a signature from the wrong key).
 */
export class LedgerKey implements SignerKey {
  readonly id: Address;
  readonly address: Address;
  readonly backend = 'ledger' as const;
  readonly path: string;
  readonly #device: LedgerDevice;

  constructor(options: { address: Address; path: string; device: LedgerDevice }) {
    this.address = getAddress(options.address);
    this.id = this.address;
    this.path = options.path;
    this.#device = options.device;
  }

  async signTransaction(tx: TransactionSerializableEIP1559, digest: Hex): Promise<Hex> {
    const unsigned = serializeTransaction(tx).slice(2);
    // resolution null: nothing is fetched to clear-sign; the device shows the raw fields (blind for calldata).
    const { v, r, s } = await this.#device.run('sign_transaction', (eth) =>
      eth.signTransaction(devicePath(this.path), unsigned, null),
    );
    const parity = Number.parseInt(v, 16);
    const signature = {
      r: hex0x(r.padStart(64, '0')),
      s: hex0x(s.padStart(64, '0')),
      yParity: parity === 1 || parity === 28 ? 1 : 0,
    };
    await this.#checkSigner(digest, serializeSignature(signature));
    return serializeTransaction(tx, signature);
  }

  async signTypedData(typedData: WireTypedData, digest: Hex): Promise<Hex> {
    // The device hashes the message itself from the full EIP-712 JSON (and shows its fields); apps too old for that
    // answer "instruction not supported", and get the two hashes instead (blind).
    const json = withDomainType(typedData);
    const { v, r, s } = await this.#device.run('sign_typed_data', async (eth) => {
      try {
        return await eth.signEIP712Message(devicePath(this.path), json);
      } catch (error) {
        if (statusOf(error) !== LEDGER_STATUS.INS_NOT_SUPPORTED) throw error;
        const domainSeparator = hashDomain({ domain: json.domain, types: json.types });
        const structHash = hashStruct({ data: json.message, primaryType: json.primaryType, types: json.types });
        return eth.signEIP712HashedMessage(devicePath(this.path), domainSeparator.slice(2), structHash.slice(2));
      }
    });
    return this.#finish(digest, v, r, s);
  }

  async signMessage(message: Hex, digest: Hex): Promise<Hex> {
    const { v, r, s } = await this.#device.run('sign_message', (eth) =>
      eth.signPersonalMessage(devicePath(this.path), message.slice(2)),
    );
    return this.#finish(digest, v, r, s);
  }

  info(): SignerKeyInfo {
    return { id: this.id, address: this.address };
  }

  toJSON(): SignerKeyInfo {
    return this.info();
  }

  [inspect.custom](): string {
    return `LedgerKey(${this.address}, ${this.path})`;
  }

  async #finish(digest: Hex, v: number, r: string, s: string): Promise<Hex> {
    const signature = serializeSignature({
      r: hex0x(r.padStart(64, '0')),
      s: hex0x(s.padStart(64, '0')),
      yParity: v === 1 || v === 28 ? 1 : 0,
    });
    await this.#checkSigner(digest, signature);
    return signature;
  }

  async #checkSigner(digest: Hex, signature: Hex): Promise<void> {
    let recovered: Address;
    try {
      recovered = await recoverAddress({ hash: digest, signature });
    } catch {
      throw new SignerError('device_key_mismatch');
    }
    if (recovered !== this.address) throw new SignerError('device_key_mismatch');
  }
}

/** The typed data as the device needs it: `types` must carry `EIP712Domain` (derived from `domain` when absent). */
function withDomainType(typedData: WireTypedData): {
  domain: Record<string, unknown>;
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: Record<string, unknown>;
} {
  if (typedData.types.EIP712Domain) return typedData;
  return {
    ...typedData,
    types: { EIP712Domain: getTypesForEIP712Domain({ domain: typedData.domain }), ...typedData.types },
  };
}
