import type { KeyObject } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { FrameDecoder, FrameError, encodeFrame, logEvent } from '@clawd402/protocol';
import type { Hex } from 'viem';
import type { Logger } from 'pino';
import { AuditCheckpoints } from './audit-checkpoints.ts';
import { loadGatewayPublicKeys, parseGatewayPublicKeys } from './gateway-keys.ts';
import { loadKeyDirectory, readKeyDirectory, type KeyRecord } from './keys/key-directory.ts';
import { LedgerDevice, type LedgerTransportFactory } from './keys/ledger-key.ts';
import type { SignerKey, SignerKeyInfo } from './keys/signer-key.ts';
import {
  isGroupOrWorldAccessible,
  loadKeystoreFile,
  readConfigText,
  readPasswordFile,
  SignerConfigError,
} from './keystore.ts';
import { createSilentLogger } from './logger.ts';
import { loadSignerPolicy, type SignerPolicy } from './policy/signer-policy.ts';
import { createRequestHandler, errorResponse, type HandledFrame, type KeyMetadata } from './request-handler.ts';
import { SignerJournal } from './signer-journal.ts';
import { SigningKey } from './signing-key.ts';
import { TicketVerifier } from './ticket-verifier.ts';
import { listenPrivate, prepareSocketPath, unlinkSocket } from './unix-socket.ts';

/** Chains signed for when none are configured: the local dev chain only, so an unconfigured signer cannot sign mainnet. */
export const DEFAULT_CHAINS: readonly number[] = [31337];

export interface StartSignerOptions {
  /** Unix socket to listen on. Its directory is created 0700 if missing; the socket is 0600. */
  socketPath: string;
  /** Signing keys already in memory (tests, benchmarks, an embedding launcher). */
  privateKeys?: readonly Hex[];
  /** Keystore files (Web3 Secret Storage v3) to decrypt at start with the password in `passwordFile`. */
  keystoreFiles?: readonly string[];
  /** A key directory (`keys generate|import|add-ledger|rotate`): keystores, HD wallets and Ledger keys with metadata. */
  keyDir?: string;
  /** File holding the password of the keystores and the key directory. */
  passwordFile?: string;
  /** Gateway ticket public keys: KeyObjects or SPKI PEM text (several blocks allowed). */
  gatewayPublicKeys?: readonly (KeyObject | string)[];
  /** File of SPKI PEM blocks with the gateway ticket public keys; re-read by `reload()`. */
  gatewayKeyFile?: string;
  /**
   * Chain ids the signer signs for at all. Default: the chains the policy names, or {@link DEFAULT_CHAINS} without
   * a policy.
   */
  chains?: readonly number[];
  /** The signer's own per-key limits (see `policy/signer-policy.ts`). Without one, no per-key limits apply. */
  policy?: SignerPolicy;
  /** Policy file (YAML or JSON); re-read by `reload()`. */
  policyFile?: string;
  /** State journal: used tickets, rolling-day spend and usage counters survive a restart. */
  journalFile?: string;
  /** fdatasync the journal before signing (default true). */
  journalFsync?: boolean;
  /**
   * Directory of the audit checkpoint key (generated on first start) and the append-only file of the checkpoints
   * signed (`sign_checkpoint`, `get_checkpoint`; see audit-checkpoints.ts). Without it those methods answer
   * `checkpoints_unavailable`.
   */
  checkpointDir?: string;
  /**
   * File of SPKI PEM blocks with the owners' Ed25519 release keys: a `release_latch` frame must carry a signature by
   * one of them over the latch id (docs/killswitch.md). Without it, only `clawd402-signer latch release` on this host,
   * with the signer stopped, lifts the kill-switch latch. Re-read by `reload()`.
   */
  releaseKeyFile?: string;
  /** Ledger access: the transport (default USB HID) and the per-operation timeout. */
  ledger?: { transport?: LedgerTransportFactory; timeoutMs?: number };
  /** Logger; silent if omitted. */
  logger?: Logger;
  /** Clock in milliseconds since the epoch (tests). */
  now?: () => number;
}

export interface RunningSigner {
  /** Absolute path of the listening socket. */
  socketPath: string;
  /** Keys held, by id and address. */
  keys: SignerKeyInfo[];
  /** Chains signed for. */
  chains: number[];
  /**
   * Re-read the gateway key file, the policy file and the key directory's metadata (a rotated-out key becomes
   * cancel-only at once). New keys need a restart. A file that no longer parses leaves everything as it was.
   */
  reload(): Promise<void>;
  /** Stop listening, drop connections, remove the socket file, flush the journal. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the signer in this process: load keys and gateway keys, open the state journal, listen on the socket.
 * Resolves once the socket accepts connections.
 *
 * @example
 * const signer = await startSigner({ socketPath, privateKeys: [key], gatewayPublicKeys: [publicKeyPem], chains: [31337] });
 * // … new SignerClient({ socketPath: signer.socketPath }) …
 * await signer.close();
 */
export async function startSigner(options: StartSignerOptions): Promise<RunningSigner> {
  const logger = options.logger ?? createSilentLogger();
  const socketPath = resolvePath(options.socketPath);
  let device: LedgerDevice | undefined;
  const ledgerDevice = (): LedgerDevice =>
    (device ??= new LedgerDevice({
      ...(options.ledger?.transport ? { transport: options.ledger.transport } : {}),
      ...(options.ledger?.timeoutMs ? { timeoutMs: options.ledger.timeoutMs } : {}),
      logger,
    }));
  const { keys, records } = await loadSigningKeys(options, logger, ledgerDevice);
  const gatewayKeys = loadGatewayKeys(options);
  let releaseKeys = loadReleaseKeys(options);
  let policy: SignerPolicy | null =
    options.policy ?? (options.policyFile === undefined ? null : loadSignerPolicy(options.policyFile));
  const chains = parseChains(options.chains ?? (policy ? policyChains(policy) : DEFAULT_CHAINS));
  const now = options.now ?? Date.now;
  let metadata = buildMetadata(keys, records);

  const keyMap = new Map(keys.map((k) => [k.address.toLowerCase(), k]));
  const verifier = new TicketVerifier<SignerKey>({ gatewayKeys, keys: keyMap, chains: new Set(chains), now });
  const journal = new SignerJournal({
    ...(options.journalFile === undefined ? {} : { path: resolvePath(options.journalFile) }),
    ...(options.journalFsync === undefined ? {} : { fsync: options.journalFsync }),
    now,
    onTornLine: () => logger.warn('the signer journal ended with a torn line (crash mid-append); it was dropped'),
  });
  let checkpoints: AuditCheckpoints | null = null;
  try {
    checkpoints =
      options.checkpointDir === undefined
        ? null
        : await AuditCheckpoints.open(resolvePath(options.checkpointDir), {
            now,
            onTornLine: () => logger.warn('the checkpoint file ended with a torn line; it was dropped'),
          });
  } catch (error) {
    await journal.close();
    throw error;
  }
  const handle = createRequestHandler({
    keys,
    chains,
    verifier,
    journal,
    checkpoints,
    policy: () => policy,
    releaseKeys: () => releaseKeys,
    metadata: (key) => metadata.get(key.id) ?? standalone(key),
    logger,
  });

  const connections = new Set<Socket>();
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    serveConnection(socket, handle, logger);
  });

  try {
    await prepareSocketPath(socketPath, logger);
    await listenPrivate(server, socketPath);
  } catch (error) {
    await journal.close();
    await checkpoints?.close();
    throw error;
  }
  logEvent(logger, 'signer.started', {
    socket: socketPath,
    keys: keys.map((k) => ({ address: k.address, backend: k.backend })),
    chains,
    policy: policy !== null,
  });

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    keys: keys.map((k) => k.info()),
    chains: [...chains],
    async reload() {
      const nextGateway = options.gatewayKeyFile === undefined ? undefined : loadGatewayKeys(options);
      const nextPolicy = options.policyFile === undefined ? policy : loadSignerPolicy(options.policyFile);
      const nextMetadata =
        options.keyDir === undefined ? metadata : buildMetadata(keys, readKeyDirectory(options.keyDir).keys);
      const nextRelease = loadReleaseKeys(options);
      if (nextGateway) verifier.setGatewayKeys(nextGateway);
      releaseKeys = nextRelease;
      policy = nextPolicy;
      metadata = nextMetadata;
      logger.info({ gatewayKeys: nextGateway?.length, policy: policy !== null }, 'reloaded');
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of connections) socket.destroy();
      }).then(async () => {
        unlinkSocket(socketPath);
        await journal.close();
        await checkpoints?.close();
        logger.info('closed');
      });
      return closing;
    },
  };
}

/** Metadata for keys not from a key directory: active, their own cap window. */
function standalone(key: SignerKey): KeyMetadata {
  return {
    state: 'active',
    predecessors: [],
    capKey: key.id.toLowerCase(),
    label: null,
    agent: null,
    created: null,
    rotatedTo: null,
    rotatedFrom: null,
  };
}

function buildMetadata(keys: readonly SignerKey[], records: readonly KeyRecord[]): Map<string, KeyMetadata> {
  const byId = new Map(records.map((r) => [r.id.toLowerCase(), r]));
  const out = new Map<string, KeyMetadata>();
  for (const key of keys) {
    const record = byId.get(key.id.toLowerCase());
    if (!record) {
      out.set(key.id, standalone(key));
      continue;
    }
    const predecessors: string[] = [];
    for (let from = record.rotatedFrom; from !== null && predecessors.length < 1000;) {
      predecessors.push(from);
      from = byId.get(from.toLowerCase())?.rotatedFrom ?? null;
    }
    out.set(key.id, {
      state: record.state,
      predecessors,
      capKey: (predecessors.at(-1) ?? key.id).toLowerCase(),
      label: record.label,
      agent: record.agent,
      created: record.created,
      rotatedTo: record.rotatedTo,
      rotatedFrom: record.rotatedFrom,
    });
  }
  return out;
}

function policyChains(policy: SignerPolicy): number[] {
  const all = new Set<number>();
  for (const entry of [...policy.keys.values(), ...(policy.default ? [policy.default] : [])])
    for (const c of entry.chains) all.add(c);
  return [...all];
}

/** Read frames from one connection, answer each (pipelined: answers go out as they complete, matched by id). */
function serveConnection(
  socket: Socket,
  handle: (frame: Record<string, unknown>) => HandledFrame | Promise<HandledFrame>,
  logger: Logger,
): void {
  const decoder = new FrameDecoder();
  let closing = false;

  const send = (frame: unknown): void => {
    if (!closing && socket.writable) socket.write(encodeFrame(frame));
  };
  const refuseAndClose = (frame: unknown): void => {
    if (closing) return;
    closing = true;
    socket.pause();
    // end() flushes the refusal, then FIN; destroy once written so nothing further is read from this peer.
    socket.end(encodeFrame(frame), () => socket.destroy());
    setTimeout(() => socket.destroy(), 1000).unref();
  };

  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    let frames: unknown[];
    try {
      frames = decoder.push(chunk);
    } catch (error) {
      const code = error instanceof FrameError ? error.code : 'malformed_frame';
      logEvent(logger, 'signer.frame_refused', { code });
      refuseAndClose(errorResponse(null, code));
      return;
    }
    const answer = ({ response, close }: HandledFrame): void => (close ? refuseAndClose(response) : send(response));
    for (const frame of frames) {
      const handled = handle(frame as Record<string, unknown>);
      if (handled instanceof Promise) handled.then(answer, () => send(errorResponse(null, 'signer_internal')));
      else answer(handled);
      if (closing) return;
    }
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    logger.debug({ code: error.code }, 'connection error');
  });
}

async function loadSigningKeys(
  options: StartSignerOptions,
  logger: Logger,
  device: () => LedgerDevice,
): Promise<{ keys: SignerKey[]; records: KeyRecord[] }> {
  const keys: SignerKey[] = (options.privateKeys ?? []).map((k) => new SigningKey(k));
  let records: KeyRecord[] = [];
  const files = options.keystoreFiles ?? [];
  if (files.length > 0 || options.keyDir !== undefined) {
    if (options.passwordFile === undefined)
      throw new SignerConfigError('keystores and key directories need a password file');
    if (isGroupOrWorldAccessible(options.passwordFile)) {
      logEvent(logger, 'signer.insecure_setup', {
        problem: 'the password file is readable by group or others; chmod 600 it',
        file: options.passwordFile,
      });
    }
    const password = readPasswordFile(options.passwordFile);
    for (const file of files) {
      if (isGroupOrWorldAccessible(file))
        logEvent(logger, 'signer.insecure_setup', {
          problem: 'the keystore is readable by group or others; chmod 600 it',
          file,
        });
      keys.push(await loadKeystoreFile(file, password));
    }
    if (options.keyDir !== undefined) {
      const loaded = await loadKeyDirectory(options.keyDir, password, device);
      keys.push(...loaded.keys);
      records = loaded.records;
    }
  }
  if (keys.length === 0) throw new SignerConfigError('no signing key configured');
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key.address)) throw new SignerConfigError(`key ${key.address} is configured twice`);
    seen.add(key.address);
  }
  return { keys, records };
}

function loadGatewayKeys(options: StartSignerOptions): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const key of options.gatewayPublicKeys ?? []) {
    if (typeof key === 'string') keys.push(...parseGatewayPublicKeys(key));
    else if (key.type === 'public' && key.asymmetricKeyType === 'ed25519') keys.push(key);
    else throw new SignerConfigError('gateway public keys must be Ed25519 public keys');
  }
  if (options.gatewayKeyFile !== undefined) keys.push(...loadGatewayPublicKeys(options.gatewayKeyFile));
  if (keys.length === 0) throw new SignerConfigError('no gateway public key configured');
  return keys;
}

function loadReleaseKeys(options: StartSignerOptions): KeyObject[] {
  if (options.releaseKeyFile === undefined) return [];
  const text = readConfigText(options.releaseKeyFile, `release key file ${options.releaseKeyFile}`);
  return parseGatewayPublicKeys(text, `release key file ${options.releaseKeyFile}`);
}

function parseChains(chains: readonly number[]): number[] {
  if (chains.length === 0) throw new SignerConfigError('at least one chain id is required');
  for (const id of chains) {
    if (!Number.isSafeInteger(id) || id < 1)
      throw new SignerConfigError(`chain id ${String(id)} is not a positive integer`);
  }
  return [...new Set(chains)];
}
