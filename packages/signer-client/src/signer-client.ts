import { randomBytes } from 'node:crypto';
import {
  SIGN_OPERATIONS,
  messageDigest,
  typedDataDigest,
  type KeyListing,
  type ListKeysResult,
  type SignMessageParams,
  type SignTransactionParams,
  type SignTransactionResult,
  type SignTypedDataParams,
  type SignatureResult,
  type StatusResult,
  type CheckpointResult,
  type SignCheckpointParams,
  type LatchState,
} from '@clawd402/protocol';
import { keccak256, type Hex } from 'viem';
import { SignerConnection, unavailable } from './signer-connection.ts';

export interface SignerClientOptions {
  /** Path of the signer's Unix socket. */
  socketPath: string;
  /** How long one request may wait for its answer, in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Connections to spread requests over (each pipelines its own). Default 1. */
  connections?: number;
  /**
   * Told of every request when it settles: its method, its round trip in seconds, and `ok`, the signer's refusal
   * code, or `unavailable` (the gateway's metrics; never given parameters or results).
   */
  observe?: (method: string, seconds: number, outcome: string) => void;
}

/** Per-request options of the signing methods. */
export interface RequestOptions {
  /**
   * The gateway's request id, carried to the signer's log lines for this request (docs/logging.md). Left out of the
   * frame when it is not 1–64 printable ASCII characters, so a strange id never costs a signature.
   */
  requestId?: string;
}

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const DECIMAL = /^[0-9]+$/;

// The checks the parsers of the signer's answers below are made of.
const isObject = (v: unknown): v is object => v !== null && typeof v === 'object';
const matches = (v: unknown, pattern: RegExp): v is string => typeof v === 'string' && pattern.test(v);
const nullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';

/**
 * The gateway's side of the signer socket. Connects lazily, pipelines requests over `connections` sockets, reconnects
 * on the next request after a drop, and bounds each request by `timeoutMs`.
 *
 * Failures: the signer unreachable, a dropped connection or a timeout reject with `Clawd402Error('signer_unavailable')`
 * (its `details.reason` says which); a refusal by the signer rejects with `SignerError(code)`. A request is never
 * retried by the client: a retried sign could sign twice, so the caller decides.
 *
 * @example
 * const signer = new SignerClient({ socketPath: '/run/clawd402/signer.sock' });
 * const { raw, hash, from } = await signer.signTransaction({ ticket, transaction });
 * await signer.close();
 */
export class SignerClient {
  readonly socketPath: string;
  readonly timeoutMs: number;
  readonly #connections: SignerConnection[];
  readonly #observe: SignerClientOptions['observe'];
  #next = 0;

  constructor(options: SignerClientOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    const connections = options.connections ?? 1;
    if (typeof options.socketPath !== 'string' || options.socketPath.length === 0)
      throw new TypeError('socketPath is required');
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
    if (!Number.isSafeInteger(connections) || connections < 1 || connections > 64) {
      throw new RangeError('connections must be an integer from 1 to 64');
    }
    this.socketPath = options.socketPath;
    this.timeoutMs = timeoutMs;
    this.#observe = options.observe;
    // Ids are unique per connection; the prefix keeps them apart across connections and clients in logs.
    const tag = randomBytes(3).toString('hex');
    this.#connections = Array.from(
      { length: connections },
      (_, i) => new SignerConnection(options.socketPath, `${tag}.${i}.`),
    );
  }

  /**
   * Ask the signer to sign one EIP-1559 transaction under a ticket. Resolves to the signed raw transaction, its hash
   * and the signing address. The hash is checked against the raw bytes before it is returned.
   */
  async signTransaction(params: SignTransactionParams, options: RequestOptions = {}): Promise<SignTransactionResult> {
    const result = await this.#request(
      'sign_transaction',
      { ticket: params.ticket, transaction: params.transaction },
      options.requestId,
    );
    return parseSignResult(result);
  }

  /**
   * Ask the signer to sign EIP-712 typed data (`eth_signTypedData_v4`) under a `typed_data` ticket whose digest is
   * `typedDataDigest(typedData)`. Resolves to the 65-byte signature (v = 27/28), the digest and the signing address;
   * a result whose digest is not the typed data's is refused.
   */
  async signTypedData(params: SignTypedDataParams, options: RequestOptions = {}): Promise<SignatureResult> {
    const { ticket, typedData } = params;
    return this.#signDigest(
      'sign_typed_data',
      { ticket, typedData },
      () => typedDataDigest(typedData),
      options.requestId,
    );
  }

  /**
   * Ask the signer to sign a message EIP-191 style (`personal_sign`) under a `personal_sign` ticket whose digest is
   * `messageDigest(message)`. `message` is the message bytes as 0x-hex.
   */
  async signMessage(params: SignMessageParams, options: RequestOptions = {}): Promise<SignatureResult> {
    const { ticket, message } = params;
    return this.#signDigest('sign_message', { ticket, message }, () => messageDigest(message), options.requestId);
  }

  /** Every key the signer holds, with metadata and usage counters (addresses only, never key material). */
  async listKeys(): Promise<ListKeysResult> {
    return parseListKeysResult(await this.#request('list_keys', {}));
  }

  /**
   * Ask the signer to sign and keep an audit checkpoint: the audit chain has `count` rows ending in `head`. Resolves
   * to the checkpoint JWS and the signer's checkpoint public key. Refusals: `checkpoint_regressed` (fewer rows than a
   * checkpoint it signed), `checkpoint_conflict` (another head for the same count), `checkpoints_unavailable`.
   */
  async signCheckpoint(params: SignCheckpointParams): Promise<CheckpointResult> {
    return parseCheckpointResult(
      await this.#request('sign_checkpoint', { count: params.count, head: params.head }),
      false,
    );
  }

  /** The latest audit checkpoint the signer signed (null before the first) and its checkpoint public key. */
  async getCheckpoint(): Promise<CheckpointResult> {
    return parseCheckpointResult(await this.#request('get_checkpoint', {}), true);
  }

  /** The keys the signer holds and the chains it signs for. */
  async status(): Promise<StatusResult> {
    return parseStatusResult(await this.#request('status', {}));
  }

  /** Latch the signer (the kill switch): it signs only cancellations from now on, across its restarts. Idempotent. */
  async latch(reason: string): Promise<LatchState> {
    return parseLatchState(await this.#request('latch', { reason }));
  }

  /** Whether the signer is latched, and the id a release authorisation must name. */
  async latchStatus(): Promise<LatchState> {
    return parseLatchState(await this.#request('latch_status', {}));
  }

  /** Lift the latch with an owner's release authorisation (refused `latch_release_unauthorized` otherwise). */
  async releaseLatch(params: { latchId: string; authorization: string }): Promise<LatchState> {
    return parseLatchState(
      await this.#request('release_latch', { latchId: params.latchId, authorization: params.authorization }),
    );
  }

  /** Close every connection; requests still in flight reject with `signer_unavailable`. */
  async close(): Promise<void> {
    await Promise.all(this.#connections.map((c) => c.close()));
  }

  /** A signature request whose answer must carry the digest `expectedDigest()` computes once the signer answered. */
  async #signDigest(
    method: 'sign_typed_data' | 'sign_message',
    params: unknown,
    expectedDigest: () => Hex,
    requestId: string | undefined,
  ): Promise<SignatureResult> {
    const result = await this.#request(method, params, requestId);
    return parseSignatureResult(result, expectedDigest(), method);
  }

  #request(method: string, params: unknown, requestId?: string): Promise<unknown> {
    // Least-loaded connection, ties broken round-robin.
    const start = this.#next++ % this.#connections.length;
    let chosen = this.#connections[start]!;
    for (let i = 1; i < this.#connections.length; i++) {
      const candidate = this.#connections[(start + i) % this.#connections.length]!;
      if (candidate.inFlight < chosen.inFlight) chosen = candidate;
    }
    const observe = this.#observe;
    if (!observe) return chosen.request(method, params, this.timeoutMs, requestId);
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    return chosen.request(method, params, this.timeoutMs, requestId).then(
      (result) => {
        observe(method, seconds(), 'ok');
        return result;
      },
      (error: unknown) => {
        const code = (error as { code?: unknown }).code;
        observe(method, seconds(), code === 'signer_unavailable' || typeof code !== 'string' ? 'unavailable' : code);
        throw error;
      },
    );
  }
}

function parseSignResult(value: unknown): SignTransactionResult {
  const r = value as Partial<Record<keyof SignTransactionResult, unknown>> | null;
  if (
    !isObject(r) ||
    !matches(r.raw, HEX) ||
    !matches(r.hash, HASH) ||
    !matches(r.from, ADDRESS) ||
    keccak256(r.raw as Hex) !== r.hash.toLowerCase()
  ) {
    throw unavailable('protocol_error', 'The signer answered sign_transaction with a malformed result.');
  }
  return { raw: r.raw as Hex, hash: r.hash as Hex, from: r.from as Hex };
}

function parseCheckpointResult(value: unknown, nullable: boolean): CheckpointResult {
  const r = value as { checkpoint?: unknown; publicKey?: unknown } | null;
  const ok =
    isObject(r) &&
    (typeof r.checkpoint === 'string' || (nullable && r.checkpoint === null)) &&
    typeof r.publicKey === 'string' &&
    r.publicKey.includes('BEGIN PUBLIC KEY');
  if (!ok) throw unavailable('protocol_error', 'The signer answered a checkpoint request with a malformed result.');
  return { checkpoint: r.checkpoint as string | null, publicKey: r.publicKey as string };
}

function parseLatchState(value: unknown): LatchState {
  const r = value as Partial<Record<keyof LatchState, unknown>> | null;
  const ok =
    isObject(r) &&
    typeof r.latched === 'boolean' &&
    nullableString(r.latchId) &&
    nullableString(r.since) &&
    r.latched === (r.latchId !== null);
  if (!ok) throw unavailable('protocol_error', 'The signer answered a latch request with a malformed result.');
  return { latched: r.latched as boolean, latchId: r.latchId as string | null, since: r.since as string | null };
}

function parseStatusResult(value: unknown): StatusResult {
  const r = value as { keys?: unknown; chains?: unknown } | null;
  const ok =
    isObject(r) &&
    Array.isArray(r.keys) &&
    r.keys.every(
      (k: { id?: unknown; address?: unknown } | null) =>
        isObject(k) && typeof k.id === 'string' && matches(k.address, ADDRESS),
    ) &&
    Array.isArray(r.chains) &&
    r.chains.every((c) => Number.isSafeInteger(c));
  if (!ok) throw unavailable('protocol_error', 'The signer answered status with a malformed result.');
  const { keys, chains } = r as StatusResult;
  return { keys: keys.map((k) => ({ id: k.id, address: k.address })), chains: [...chains] };
}

function parseSignatureResult(value: unknown, expectedDigest: Hex, method: string): SignatureResult {
  const r = value as Partial<Record<keyof SignatureResult, unknown>> | null;
  if (
    !isObject(r) ||
    !matches(r.signature, SIGNATURE) ||
    typeof r.digest !== 'string' ||
    r.digest.toLowerCase() !== expectedDigest.toLowerCase() ||
    !matches(r.from, ADDRESS)
  ) {
    throw unavailable('protocol_error', `The signer answered ${method} with a malformed result.`);
  }
  return { signature: r.signature as Hex, digest: r.digest as Hex, from: r.from as Hex };
}

const BACKENDS = new Set(['keystore', 'hd', 'ledger', 'memory']);
const STATES = new Set(['active', 'cancel_only']);

function parseListKeysResult(value: unknown): ListKeysResult {
  const r = value as { keys?: unknown } | null;
  const ok =
    isObject(r) &&
    Array.isArray(r.keys) &&
    r.keys.every((k: Partial<Record<keyof KeyListing, unknown>> | null) => {
      if (!isObject(k)) return false;
      const usage = k.usage as Record<string, unknown> | null | undefined;
      return (
        typeof k.id === 'string' &&
        matches(k.address, ADDRESS) &&
        BACKENDS.has(k.backend as string) &&
        STATES.has(k.state as string) &&
        [k.label, k.agent, k.path, k.created, k.rotatedTo, k.rotatedFrom].every(nullableString) &&
        matches(k.spentLastDay, DECIMAL) &&
        isObject(usage) &&
        SIGN_OPERATIONS.every((op) => Number.isSafeInteger(usage[op])) &&
        nullableString(usage.lastUsed)
      );
    });
  if (!ok) throw unavailable('protocol_error', 'The signer answered list_keys with a malformed result.');
  return { keys: (r as ListKeysResult).keys.map((k) => ({ ...k, usage: { ...k.usage } })) };
}
