import { createConnection, type Socket } from 'node:net';
import {
  Clawd402Error,
  FrameDecoder,
  SIGNER_ERRORS,
  SignerError,
  encodeFrame,
  isRequestId,
  isSignerErrorCode,
  type SignerErrorCode,
} from '@clawd402/protocol';

/**
 * Why a request ended in `signer_unavailable`. `connect_failed` means the request never reached the signer;
 * `connection_closed`, `timeout` and `protocol_error` mean it may have reached it (and, for a sign request, may have
 * been signed: the ticket is then spent, so nothing can be signed twice with it).
 */
export type UnavailableReason = 'connect_failed' | 'connection_closed' | 'timeout' | 'protocol_error' | 'client_closed';

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export function unavailable(reason: UnavailableReason, message: string, cause?: unknown): Clawd402Error {
  return new Clawd402Error('signer_unavailable', message, { details: { reason }, cause });
}

/**
 * One Unix-socket connection to the signer, opened lazily and reopened on the next request after it drops. Requests
 * are written as soon as they are made (pipelined) and matched to responses by id. Nothing is ever resent.
 */
export class SignerConnection {
  #socket: Socket | undefined;
  #connected = false;
  #decoder = new FrameDecoder();
  #pending = new Map<string, Pending>();
  #nextId = 0;
  #closed = false;

  constructor(
    private readonly socketPath: string,
    private readonly prefix: string,
  ) {}

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** `requestId` goes into the frame only when the signer would accept it (`isRequestId`); otherwise it is left out. */
  request(method: string, params: unknown, timeoutMs: number, requestId?: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(unavailable('client_closed', 'The signer client is closed.'));
    const id = `${this.prefix}${(this.#nextId++).toString(36)}`;
    // Encode first: a request too large for the protocol is the caller's error and never touches the socket.
    const frame = encodeFrame({ v: 1, id, method, params, ...(isRequestId(requestId) ? { requestId } : {}) });
    const socket = this.#ensureSocket();
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late answer to this id is dropped by #onFrame; the connection stays usable for other requests.
        if (this.#pending.delete(id)) {
          this.#idle();
          reject(unavailable('timeout', `The signer did not answer within ${timeoutMs} ms.`));
        }
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      socket.ref();
      socket.write(frame);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#failAll(unavailable('client_closed', 'The signer client was closed before the signer answered.'));
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  #ensureSocket(): Socket {
    if (this.#socket && !this.#socket.destroyed) return this.#socket;
    const socket = createConnection({ path: this.socketPath });
    this.#socket = socket;
    this.#connected = false;
    this.#decoder = new FrameDecoder();
    let failure: Error | undefined;
    socket.on('connect', () => {
      this.#connected = true;
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = this.#decoder.push(chunk);
      } catch (cause) {
        failure = unavailable('protocol_error', 'The signer sent a frame this client cannot read.', cause);
        socket.destroy();
        return;
      }
      for (const frame of frames) this.#onFrame(frame as Record<string, unknown>);
    });
    socket.on('error', (error) => {
      failure ??= this.#connected
        ? unavailable('connection_closed', 'The signer connection failed before it answered.', error)
        : unavailable('connect_failed', 'The signer is not reachable on its socket.', error);
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      this.#failAll(
        failure ?? unavailable('connection_closed', 'The signer closed the connection before it answered.'),
      );
    });
    return socket;
  }

  #onFrame(frame: Record<string, unknown>): void {
    const { id } = frame;
    const error = frame.error as { code?: unknown; message?: unknown } | undefined;
    if (id === null && error !== undefined) {
      // A connection-level refusal: the signer closes the connection next. Every request on it gets the refusal.
      this.#failAll(toSignerError(error));
      return;
    }
    if (typeof id !== 'string') return;
    const pending = this.#pending.get(id);
    if (!pending) return; // timed out already, or not ours
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    this.#idle();
    if (error !== undefined) pending.reject(toSignerError(error));
    else if ('result' in frame) pending.resolve(frame.result);
    else pending.reject(unavailable('protocol_error', 'The signer answered with neither a result nor an error.'));
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.#idle();
  }

  /** An idle connection does not keep the process alive. */
  #idle(): void {
    if (this.#pending.size === 0) this.#socket?.unref();
  }
}

function toSignerError(error: { code?: unknown; message?: unknown } | null): SignerError {
  const code: SignerErrorCode = isSignerErrorCode(error?.code) ? error.code : 'signer_internal';
  const message =
    typeof error?.message === 'string' && error.message.length <= 500 ? error.message : SIGNER_ERRORS[code];
  return new SignerError(code, code === error?.code ? message : SIGNER_ERRORS[code]);
}
