import type { Hex } from 'viem';
import type { SignCheckpointParams } from './checkpoint.ts';
import type { SignerErrorCode } from './errors.ts';
import type { SignOperation, WireTypedData } from './ticket.ts';
import type { WireTransaction } from './transaction.ts';

/**
 * Gateway ↔ signer wire protocol over a Unix socket: each frame is a 4-byte big-endian unsigned length followed by
 * that many bytes of UTF-8 JSON. A frame larger than MAX_FRAME_BYTES, or one that is not a JSON object of this
 * version, is refused with an error frame and the connection is closed. Requests carry an `id` the response echoes,
 * so one connection may carry several requests in flight.
 */
export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 256 * 1024;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // a BOM stays, so JSON.parse refuses it

export interface SignTransactionParams {
  ticket: string;
  transaction: WireTransaction;
}
export interface SignTransactionResult {
  /** The signed, serialised transaction, ready for eth_sendRawTransaction. */
  raw: Hex;
  /** keccak256 of `raw`: the transaction hash. */
  hash: Hex;
  /** The address that signed. */
  from: Hex;
}
export interface SignTypedDataParams {
  ticket: string;
  /** The EIP-712 payload; the signer hashes it itself and compares with the ticket's `dig`. */
  typedData: WireTypedData;
}
export interface SignMessageParams {
  ticket: string;
  /** The message bytes, 0x-prefixed hex (a UTF-8 text is sent as its bytes). Signed as EIP-191 personal_sign. */
  message: Hex;
}
/** Answer to `sign_typed_data` and `sign_message`. */
export interface SignatureResult {
  /** 65 bytes, `r ‖ s ‖ v` with v = 27 or 28, as `eth_signTypedData_v4` and `personal_sign` return it. */
  signature: Hex;
  /** The digest that was signed (the signer's own computation). */
  digest: Hex;
  /** The address that signed. */
  from: Hex;
}
export interface StatusResult {
  keys: { id: string; address: Hex }[];
  chains: number[];
}
/** One key as `list_keys` describes it: addresses and metadata only, never key material. */
export interface KeyListing {
  id: string;
  address: Hex;
  /** `keystore` (Web3 Secret Storage v3), `hd` (derived from an encrypted mnemonic), `ledger`, or `memory`. */
  backend: 'keystore' | 'hd' | 'ledger' | 'memory';
  /** `cancel_only` once rotated out: it then signs only zero-value self-transfers. */
  state: 'active' | 'cancel_only';
  label: string | null;
  /** The agent the key is assigned to, if any (an opaque id the gateway chose). */
  agent: string | null;
  /** BIP-32 path, for `hd` and `ledger` keys. */
  path: string | null;
  created: string | null;
  rotatedTo: string | null;
  rotatedFrom: string | null;
  /** Signatures made with this key since it was created, by operation, and when the last one was made. */
  usage: Record<SignOperation, number> & { lastUsed: string | null };
  /** Native value (wei, decimal string) counted against this key's rolling 24-hour cap right now. */
  spentLastDay: string;
}
export interface ListKeysResult {
  keys: KeyListing[];
}

/**
 * The kill-switch latch (docs/killswitch.md). Once latched the signer refuses every ticket except cancellations
 * (zero-value self-transfers at a nonce, ticket mode `cancel`), and the latch is in its journal, so it survives a
 * restart of either process. `latchId` is chosen by the signer when it latches: a release authorisation names it, so
 * an old one never lifts a new latch.
 */
export interface LatchState {
  latched: boolean;
  latchId: string | null;
  /** When it latched, ISO 8601; null when not latched. */
  since: string | null;
}
export interface LatchParams {
  /** Free text for the signer's log and journal (at most 200 characters). */
  reason: string;
}
export interface ReleaseLatchParams {
  latchId: string;
  /** base64url Ed25519 signature over {@link latchReleaseMessage}(latchId) by a release key the signer trusts. */
  authorization: string;
}
/** The bytes a release key signs to lift latch `latchId`. */
export function latchReleaseMessage(latchId: string): Buffer {
  return Buffer.from(`clawd402-signer-latch-release:v1:${latchId}`, 'utf8');
}

/**
 * A request may carry the gateway's request id in `requestId`, so the signer's log lines for it name the HTTP request
 * that caused them (docs/logging.md). It is 1–64 printable ASCII characters, no spaces; the signer refuses a frame
 * with any other `requestId` as `malformed_frame`, and the client leaves out one that would be refused.
 */
export const MAX_REQUEST_ID_CHARS = 64;
const REQUEST_ID = /^[\x21-\x7e]{1,64}$/;

/** Whether `value` may travel as a frame's `requestId`. */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

export type SignerRequest = (
  | { v: 1; id: string; method: 'sign_transaction'; params: SignTransactionParams }
  | { v: 1; id: string; method: 'sign_typed_data'; params: SignTypedDataParams }
  | { v: 1; id: string; method: 'sign_message'; params: SignMessageParams }
  | { v: 1; id: string; method: 'list_keys'; params?: Record<string, never> }
  | { v: 1; id: string; method: 'status'; params?: Record<string, never> }
  | { v: 1; id: string; method: 'sign_checkpoint'; params: SignCheckpointParams }
  | { v: 1; id: string; method: 'get_checkpoint'; params?: Record<string, never> }
  | { v: 1; id: string; method: 'latch'; params: LatchParams }
  | { v: 1; id: string; method: 'latch_status'; params?: Record<string, never> }
  | { v: 1; id: string; method: 'release_latch'; params: ReleaseLatchParams }
) & { requestId?: string };

export type SignerMethod = SignerRequest['method'];
export const SIGNER_METHODS: readonly SignerMethod[] = [
  'sign_transaction',
  'sign_typed_data',
  'sign_message',
  'list_keys',
  'status',
  'sign_checkpoint',
  'get_checkpoint',
  'latch',
  'latch_status',
  'release_latch',
];

export type SignerResponse =
  | { v: 1; id: string; result: unknown }
  | { v: 1; id: string | null; error: { code: SignerErrorCode; message: string } };

/** Encode one frame. */
export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME_BYTES) throw new RangeError(`frame of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

export class FrameError extends Error {
  constructor(
    readonly code: 'malformed_frame' | 'frame_too_large',
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * Incremental frame decoder: push bytes as they arrive, get back every complete frame's parsed JSON. Throws a
 * FrameError on an oversized length or a body that is not a JSON object; the caller must then close the connection.
 */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): unknown[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: unknown[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length > this.maxFrameBytes) throw new FrameError('frame_too_large', `frame of ${length} bytes`);
      if (this.buffer.length < 4 + length) break;
      const body = this.buffer.subarray(4, 4 + length);
      this.buffer = this.buffer.subarray(4 + length);
      let parsed: unknown;
      try {
        parsed = JSON.parse(UTF8.decode(body)); // fatal: invalid UTF-8 is refused, never replaced with U+FFFD
      } catch {
        throw new FrameError('malformed_frame', 'frame body is not UTF-8 JSON');
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new FrameError('malformed_frame', 'frame body is not a JSON object');
      }
      out.push(parsed);
    }
    return out;
  }

  /** Bytes received that do not yet form a whole frame. */
  get pending(): number {
    return this.buffer.length;
  }
}
