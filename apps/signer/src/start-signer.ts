import type { KeyObject } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { FrameDecoder, FrameError, encodeFrame } from '@clawd402/protocol';
import type { Hex } from 'viem';
import type { Logger } from 'pino';
import { loadGatewayPublicKeys, parseGatewayPublicKeys } from './gateway-keys.ts';
import { isGroupOrWorldAccessible, loadKeystoreFile, readPasswordFile, SignerConfigError } from './keystore.ts';
import { createSilentLogger } from './logger.ts';
import { createRequestHandler, errorResponse, type HandledFrame } from './request-handler.ts';
import { SigningKey, type SignerKeyInfo } from './signing-key.ts';
import { TicketJournal } from './ticket-journal.ts';
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
  /** File holding the keystore password. Required with `keystoreFiles`. */
  passwordFile?: string;
  /** Gateway ticket public keys: KeyObjects or SPKI PEM text (several blocks allowed). */
  gatewayPublicKeys?: readonly (KeyObject | string)[];
  /** File of SPKI PEM blocks with the gateway ticket public keys. */
  gatewayKeyFile?: string;
  /** Chain ids the signer signs for. Default {@link DEFAULT_CHAINS}. */
  chains?: readonly number[];
  /** Used-ticket journal file; with it a restart still refuses tickets used before. */
  journalFile?: string;
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
  /** Stop listening, drop connections, remove the socket file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the signer in this process: load keys and gateway keys, open the ticket journal, listen on the socket.
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
  const keys = await loadSigningKeys(options, logger);
  const gatewayKeys = loadGatewayKeys(options);
  const chains = parseChains(options.chains ?? DEFAULT_CHAINS);
  const now = options.now ?? Date.now;

  const keyMap = new Map(keys.map((k) => [k.address.toLowerCase(), k]));
  const verifier = new TicketVerifier<SigningKey>({ gatewayKeys, keys: keyMap, chains: new Set(chains), now });
  const journal = new TicketJournal({
    ...(options.journalFile === undefined ? {} : { path: resolvePath(options.journalFile) }),
    now,
    onTornLine: () => logger.warn('the ticket journal ended with a torn line (crash mid-append); it was dropped'),
  });
  const handle = createRequestHandler({ keys, chains, verifier, journal, logger });

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
    journal.close();
    throw error;
  }
  logger.info({ socket: socketPath, keys: keys.map((k) => k.address), chains }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    keys: keys.map((k) => k.info()),
    chains: [...chains],
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of connections) socket.destroy();
      }).then(() => {
        unlinkSocket(socketPath);
        journal.close();
        logger.info('closed');
      });
      return closing;
    },
  };
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
      logger.info({ code }, 'refused frame; closing connection');
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

async function loadSigningKeys(options: StartSignerOptions, logger: Logger): Promise<SigningKey[]> {
  const keys = (options.privateKeys ?? []).map((k) => new SigningKey(k));
  const files = options.keystoreFiles ?? [];
  if (files.length > 0) {
    if (options.passwordFile === undefined) throw new SignerConfigError('keystores need a password file');
    if (isGroupOrWorldAccessible(options.passwordFile)) {
      logger.warn({ file: options.passwordFile }, 'the password file is readable by group or others; chmod 600 it');
    }
    const password = readPasswordFile(options.passwordFile);
    for (const file of files) {
      if (isGroupOrWorldAccessible(file)) logger.warn({ file }, 'the keystore is readable by group or others; chmod 600 it');
      keys.push(await loadKeystoreFile(file, password));
    }
  }
  if (keys.length === 0) throw new SignerConfigError('no signing key configured');
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key.address)) throw new SignerConfigError(`key ${key.address} is configured twice`);
    seen.add(key.address);
  }
  return keys;
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

function parseChains(chains: readonly number[]): number[] {
  if (chains.length === 0) throw new SignerConfigError('at least one chain id is required');
  for (const id of chains) {
    if (!Number.isSafeInteger(id) || id < 1) throw new SignerConfigError(`chain id ${String(id)} is not a positive integer`);
  }
  return [...new Set(chains)];
}
