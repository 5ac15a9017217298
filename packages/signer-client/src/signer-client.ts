import { randomBytes } from 'node:crypto';
import type { SignTransactionParams, SignTransactionResult, StatusResult } from '@clawd402/protocol';
import { keccak256, type Hex } from 'viem';
import { SignerConnection, unavailable } from './signer-connection.ts';

export interface SignerClientOptions {
  /** Path of the signer's Unix socket. */
  socketPath: string;
  /** How long one request may wait for its answer, in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Connections to spread requests over (each pipelines its own). Default 1. */
  connections?: number;
}

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

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
  #next = 0;

  constructor(options: SignerClientOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    const connections = options.connections ?? 1;
    if (typeof options.socketPath !== 'string' || options.socketPath.length === 0) throw new TypeError('socketPath is required');
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
    if (!Number.isSafeInteger(connections) || connections < 1 || connections > 64) {
      throw new RangeError('connections must be an integer from 1 to 64');
    }
    this.socketPath = options.socketPath;
    this.timeoutMs = timeoutMs;
    // Ids are unique per connection; the prefix keeps them apart across connections and clients in logs.
    const tag = randomBytes(3).toString('hex');
    this.#connections = Array.from({ length: connections }, (_, i) => new SignerConnection(options.socketPath, `${tag}.${i}.`));
  }

  /**
   * Ask the signer to sign one EIP-1559 transaction under a ticket. Resolves to the signed raw transaction, its hash
   * and the signing address. The hash is checked against the raw bytes before it is returned.
   */
  async signTransaction(params: SignTransactionParams): Promise<SignTransactionResult> {
    const result = await this.#request('sign_transaction', { ticket: params.ticket, transaction: params.transaction });
    return parseSignResult(result);
  }

  /** The keys the signer holds and the chains it signs for. */
  async status(): Promise<StatusResult> {
    return parseStatusResult(await this.#request('status', {}));
  }

  /** Close every connection; requests still in flight reject with `signer_unavailable`. */
  async close(): Promise<void> {
    await Promise.all(this.#connections.map((c) => c.close()));
  }

  #request(method: string, params: unknown): Promise<unknown> {
    // Least-loaded connection, ties broken round-robin.
    const start = this.#next++ % this.#connections.length;
    let chosen = this.#connections[start]!;
    for (let i = 1; i < this.#connections.length; i++) {
      const candidate = this.#connections[(start + i) % this.#connections.length]!;
      if (candidate.inFlight < chosen.inFlight) chosen = candidate;
    }
    return chosen.request(method, params, this.timeoutMs);
  }
}

function parseSignResult(value: unknown): SignTransactionResult {
  const r = value as Partial<Record<keyof SignTransactionResult, unknown>> | null;
  if (
    r === null ||
    typeof r !== 'object' ||
    typeof r.raw !== 'string' ||
    !HEX.test(r.raw) ||
    typeof r.hash !== 'string' ||
    !HASH.test(r.hash) ||
    typeof r.from !== 'string' ||
    !ADDRESS.test(r.from) ||
    keccak256(r.raw as Hex) !== r.hash.toLowerCase()
  ) {
    throw unavailable('protocol_error', 'The signer answered sign_transaction with a malformed result.');
  }
  return { raw: r.raw as Hex, hash: r.hash as Hex, from: r.from as Hex };
}

function parseStatusResult(value: unknown): StatusResult {
  const r = value as { keys?: unknown; chains?: unknown } | null;
  const ok =
    r !== null &&
    typeof r === 'object' &&
    Array.isArray(r.keys) &&
    r.keys.every(
      (k: { id?: unknown; address?: unknown } | null) =>
        k !== null && typeof k === 'object' && typeof k.id === 'string' && typeof k.address === 'string' && ADDRESS.test(k.address),
    ) &&
    Array.isArray(r.chains) &&
    r.chains.every((c) => Number.isSafeInteger(c));
  if (!ok) throw unavailable('protocol_error', 'The signer answered status with a malformed result.');
  const { keys, chains } = r as StatusResult;
  return { keys: keys.map((k) => ({ id: k.id, address: k.address })), chains: [...chains] };
}
