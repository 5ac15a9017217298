// Shared fixtures for the signer tests (not a test file itself).
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import {
  FrameDecoder,
  SignerError,
  TICKET_TYPE,
  fromWireTransaction,
  messageDigest,
  toWireTransaction,
  transactionDigest,
  typedDataDigest,
  type WireTransaction,
  type WireTypedData,
} from '@clawd402/protocol';
import { generateTicketKeyPair, SignerClient, TicketIssuer } from '@clawd402/signer-client';
import { permitTypedData as testkitPermitTypedData } from '@clawd402/testkit';
import type { Hex } from 'viem';
import { startSigner, type RunningSigner, type StartSignerOptions } from '../src/index.ts';

export const CHAIN_ID = 31337;

/** A private temp dir (short path: Unix socket paths are limited to ~107 bytes). Removed by the returned cleanup. */
export function tempDir(prefix = 'c402s-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface GatewayKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  issuer: TicketIssuer;
}

export function gatewayKeys(keyId = 'gw-test'): GatewayKeys {
  const { privateKeyPem, publicKeyPem } = generateTicketKeyPair();
  const privateKey = createPrivateKey(privateKeyPem);
  return {
    privateKey,
    publicKey: createPublicKey(publicKeyPem),
    publicKeyPem,
    issuer: new TicketIssuer({ privateKey, keyId }),
  };
}

let nonce = 0;
/** A distinct plain EIP-1559 transfer on every call. */
export function wireTx(overrides: Partial<WireTransaction> = {}): WireTransaction {
  return {
    ...toWireTransaction({
      chainId: CHAIN_ID,
      nonce: nonce++,
      to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      value: 1_000_000_000_000_000n,
      data: '0x',
      gas: 21_000n,
      maxFeePerGas: 2_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    }),
    ...overrides,
  };
}

export function digestOf(tx: WireTransaction): Hex {
  return transactionDigest(fromWireTransaction(tx));
}

/** Issue a valid ticket for `tx` to be signed by `signerKeyId`. */
export function ticketFor(
  gw: GatewayKeys,
  tx: WireTransaction,
  signerKeyId: string,
  intentId = 'intent-1',
): Promise<string> {
  return gw.issuer.issue({ intentId, chainId: tx.chainId, signerKeyId, digest: digestOf(tx) });
}

/** Mint a ticket with arbitrary claims and header (hostile inputs the real issuer refuses to produce). */
export function mintTicket(
  key: KeyObject | Uint8Array,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'EdDSA', typ: TICKET_TYPE, kid: 'gw-test' },
): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header as { alg: string })
    .sign(key);
}

/** Valid claims for `tx`, to be altered by a test. */
export function claimsFor(
  tx: WireTransaction,
  signerKeyId: string,
  now = Math.floor(Date.now() / 1000),
): Record<string, unknown> {
  return {
    v: 1,
    jti: `jti-${Math.random()}`,
    iid: 'intent-1',
    cid: tx.chainId,
    kid: signerKeyId,
    dig: digestOf(tx),
    iat: now,
    exp: now + 30,
  };
}

export function writeFileText(path: string, text: string): string {
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/**
 * A raw socket to the signer: write arbitrary bytes or frames, read every frame it answers, see when it closes.
 * `received` keeps every byte, for leak checks.
 */
export class RawConnection {
  readonly socket: Socket;
  readonly frames: Record<string, unknown>[] = [];
  received = Buffer.alloc(0);
  readonly closed: Promise<void>;
  #decoder = new FrameDecoder();
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      for (const frame of this.#decoder.push(chunk)) this.frames.push(frame as Record<string, unknown>);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    socket.on('error', () => {});
  }

  static open(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path });
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  writeFrame(message: unknown): void {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    this.socket.write(Buffer.concat([header, body]));
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolve once at least `count` frames have arrived (or reject if the connection closes first). */
  async waitFrames(count: number): Promise<Record<string, unknown>[]> {
    while (this.frames.length < count) {
      const more = new Promise<void>((resolve) => this.#waiters.push(resolve));
      const closed = this.closed.then(() => 'closed' as const);
      if ((await Promise.race([more, closed])) === 'closed' && this.frames.length < count) {
        throw new Error(`connection closed after ${this.frames.length} of ${count} frames`);
      }
    }
    return this.frames.slice(0, count);
  }

  /** Send one request and wait for the answer carrying its id. */
  async call(id: string, method: string, params?: unknown): Promise<Record<string, unknown>> {
    this.writeFrame(params === undefined ? { v: 1, id, method } : { v: 1, id, method, params });
    for (;;) {
      const found = this.frames.find((f) => f.id === id);
      if (found) return found;
      await this.waitFrames(this.frames.length + 1);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A small EIP-712 message (an ERC-2612 permit shape) on `chainId`. */
export function permitTypedData(
  chainId = CHAIN_ID,
  owner = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
): WireTypedData {
  return testkitPermitTypedData(
    { name: 'Test Token', version: '1', chainId, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
    {
      owner,
      spender: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
      value: '1000000',
      nonce: 0,
      deadline: 1_900_000_000,
    },
  );
}

/** A `typed_data` ticket for `typedData`. */
export function typedDataTicketFor(
  gw: GatewayKeys,
  typedData: WireTypedData,
  signerKeyId: string,
  chainId = CHAIN_ID,
): Promise<string> {
  return gw.issuer.issue({
    intentId: 'intent-td',
    chainId,
    signerKeyId,
    digest: typedDataDigest(typedData),
    operation: 'typed_data',
  });
}

/** A `personal_sign` ticket for the message bytes. */
export function messageTicketFor(
  gw: GatewayKeys,
  message: Hex,
  signerKeyId: string,
  chainId = CHAIN_ID,
): Promise<string> {
  return gw.issuer.issue({
    intentId: 'intent-msg',
    chainId,
    signerKeyId,
    digest: messageDigest(message),
    operation: 'personal_sign',
  });
}

/** A predicate for assert.rejects / assert.throws: the error is SignerError(code). */
export function refusedWith(code: string): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof SignerError, `expected SignerError(${code}), got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** Assert a promise rejects with SignerError(code). */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, refusedWith(code));
}

/** What a describe block's tests read with `signerWithClient`: the running signer and a client on its socket. */
export interface SignerWithClient {
  signer: RunningSigner;
  client: SignerClient;
}

/**
 * For the enclosing describe block: a signer started with `options` (its socket `signer.sock` in `tmp.dir`) and a
 * client on that socket before its tests; client and signer closed and `tmp` removed after them.
 */
export function signerWithClient(
  tmp: { dir: string; cleanup: () => void },
  options: Omit<StartSignerOptions, 'socketPath'>,
): SignerWithClient {
  const ctx = {} as SignerWithClient;
  before(async () => {
    ctx.signer = await startSigner({ socketPath: join(tmp.dir, 'signer.sock'), ...options });
    ctx.client = new SignerClient({ socketPath: ctx.signer.socketPath });
  });
  after(async () => {
    await ctx.client.close();
    await ctx.signer.close();
    tmp.cleanup();
  });
  return ctx;
}

/** Start a signer with `options`, run `fn` with a client on its socket, then close both. */
export async function withStartedSigner<T>(
  options: StartSignerOptions,
  fn: (client: SignerClient) => Promise<T>,
): Promise<T> {
  const signer = await startSigner(options);
  const client = new SignerClient({ socketPath: options.socketPath });
  try {
    return await fn(client);
  } finally {
    await client.close();
    await signer.close();
  }
}

/**
 * Options for a signer on the keystore files in `keyDir`, in the test directory `dir`: its socket under run/, the
 * policy it reads from policy.yaml and its journal in journal.jsonl there.
 */
export function keystoreSignerOptions(
  dir: string,
  keyDir: string,
  passwordFile: string,
  gw: GatewayKeys,
): StartSignerOptions {
  return {
    socketPath: join(dir, 'run', 'signer.sock'),
    keyDir,
    passwordFile,
    gatewayPublicKeys: [gw.publicKey],
    policyFile: join(dir, 'policy.yaml'),
    journalFile: join(dir, 'journal.jsonl'),
  };
}
