/** Helpers for the submission tests: a stoppable TCP proxy (an RPC endpoint that can go down) and anvil controls. */
import { createServer, connect, type Socket } from 'node:net';
import { after, before } from 'node:test';
import { Writable } from 'node:stream';
import { anvilRpc } from '@clawd402/testkit';
import { startStack, type Stack } from './stack.ts';
import type { StackWithToken } from './suite.ts';

export interface TcpProxy {
  port: number;
  /** Close the listener and every open connection: new connections are refused, like a dead endpoint. */
  stop(): Promise<void>;
}

/**
 * Forward every TCP connection on a free 127.0.0.1 port (or `listenPort`: an endpoint coming back) to `target`
 * ("http://127.0.0.1:8545").
 */
export async function startTcpProxy(target: string, listenPort = 0): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    port: address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One JSON-RPC call to an anvil (test controls: evm_setAutomine, evm_mine, anvil_dropTransaction, …). */
export const rpc = anvilRpc;

/** The transactions of `address` waiting in an anvil's pool (pending or queued behind a gap), by nonce. */
export async function poolOf(
  url: string,
  address: string,
): Promise<
  Map<number, { hash: string; to: string; value: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }>
> {
  type Pool = Record<
    string,
    Record<string, { hash: string; to: string; value: string; maxFeePerGas: string; maxPriorityFeePerGas: string }>
  >;
  const content = await rpc<{ pending?: Pool; queued?: Pool }>(url, 'txpool_content');
  const out = new Map<
    number,
    { hash: string; to: string; value: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }
  >();
  for (const [from, byNonce] of [...Object.entries(content.pending ?? {}), ...Object.entries(content.queued ?? {})]) {
    if (from.toLowerCase() !== address.toLowerCase()) continue;
    for (const [nonce, tx] of Object.entries(byNonce)) {
      out.set(Number(nonce), {
        hash: tx.hash,
        to: tx.to,
        value: BigInt(tx.value),
        maxFeePerGas: BigInt(tx.maxFeePerGas),
        maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas),
      });
    }
  }
  return out;
}

/** A log destination that keeps every line (to assert what logs never contain). */
export function captureLogs(): { stream: Writable; text(): string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { stream, text: () => lines.join('') };
}

/**
 * One startManualStack for the enclosing describe block: started before its tests, stopped after them. Call it
 * directly inside `describe`; read `ctx.stack` and `ctx.token` inside the tests.
 */
export function manualStackWithToken(options: { policy?: string } = {}): StackWithToken {
  const ctx = {} as StackWithToken;
  before(async () => {
    Object.assign(ctx, await startManualStack(options));
  });
  after(async () => ctx.stack?.stop());
  return ctx;
}

/**
 * A stack whose anvil mines only when the test says (automine off) and whose tracker runs only when the test calls
 * it, nothing stuck for an hour, the first poll's sweep already out of the way; with an agent token.
 */
export async function startManualStack(options: { policy?: string } = {}): Promise<{ stack: Stack; token: string }> {
  const stack = await startStack({
    tracker: false,
    env: { SUBMISSION_STUCK_AFTER_SECONDS: '3600' },
    ...(options.policy ? { policy: options.policy } : {}),
  });
  try {
    await rpc(stack.anvil.rpcUrl, 'evm_setAutomine', [false]);
    const token = await stack.token();
    await stack.app.services.tracker.poll();
    return { stack, token };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
