import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { anvilBinaryPath } from './anvil-binary.ts';
import { guardChild } from './child-guard.ts';

/** Options of {@link startAnvil}. */
export interface StartAnvilOptions {
  /** TCP port on 127.0.0.1. Default: a free port the OS picks for anvil (race-free, see {@link startAnvil}). */
  port?: number;
  /** Interval mining: a block every `blockTime` seconds (`--block-time`). Default: a block per transaction. */
  blockTime?: number;
  /** Do not mine at all until `evm_mine` / `anvil_mine` is called (`--no-mining`). */
  noMining?: boolean;
  /** Chain id (`--chain-id`). Default: 31337. */
  chainId?: number;
  /**
   * More anvil arguments, e.g. `['--state', path]` or `['--hardfork', 'prague']`. `--host`, `--port` and `--silent`
   * are set by startAnvil and must not be repeated here.
   */
  extraArgs?: string[];
  /** How long to wait for `eth_chainId` to answer. Default: 30 000 ms. */
  startTimeoutMs?: number;
  /** Anvil binary to run. Default: {@link anvilBinaryPath}(). */
  binaryPath?: string;
}

/** A running anvil dev chain, started by {@link startAnvil}. */
export interface Anvil {
  /** JSON-RPC endpoint, `http://127.0.0.1:<port>`. */
  readonly rpcUrl: string;
  /** The TCP port anvil listens on. */
  readonly port: number;
  /** Chain id, as answered by `eth_chainId`. */
  readonly chainId: number;
  /** Process id of the anvil process. */
  readonly pid: number;
  /**
   * Stops anvil: SIGTERM (so `--state` / `--dump-state` get written), SIGKILL after 5 s. Resolves once the process
   * has exited and its port is closed. Safe to call more than once.
   */
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 8_192;

/**
 * TCP ports a process listens on, read from /proc (Linux): the socket inodes among its open file descriptors,
 * matched against the LISTEN rows of its network namespace's tcp tables.
 */
function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (local === undefined || cols[3] !== '0A' || cols[9] === undefined || !inodes.has(cols[9])) continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (Number.isInteger(port) && port > 0) ports.push(port);
    }
  }
  return ports;
}

/** One eth_chainId call on a fresh connection; resolves with the chain id or rejects. */
function rpcChainId(port: number, timeoutMs: number): Promise<number> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            const result = (JSON.parse(text) as { result?: unknown }).result;
            if (typeof result !== 'string') throw new Error(`unexpected eth_chainId answer: ${text.slice(0, 200)}`);
            resolve(Number.parseInt(result, 16));
          } catch (error) {
            reject(error instanceof Error ? error : new Error('eth_chainId failed', { cause: error }));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('eth_chainId timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function appendTail(tail: string, chunk: string): string {
  const next = tail + chunk;
  return next.length > OUTPUT_TAIL_CHARS ? next.slice(-OUTPUT_TAIL_CHARS) : next;
}

/**
 * Starts an anvil dev chain on 127.0.0.1 and resolves once it answers `eth_chainId`.
 *
 * Port choice is race-free across parallel test processes: without `options.port` anvil binds port 0 itself and the
 * port is read back from the kernel (on Linux from /proc, with `--silent`; elsewhere from anvil's "Listening on"
 * line, without `--silent`). Nothing reserves a port and releases it for someone else to take.
 *
 * No orphans: `stop()` ends the process; anvils still running when this process exits are killed by an 'exit'
 * handler, and if this process dies by a signal or SIGKILL a small `sh` guard per anvil kills it (child-guard.ts). The child does
 * not keep the event loop alive, so a test that forgets `stop()` still ends.
 *
 * Startup takes about 0.1–0.5 s on this project's machines.
 *
 * @throws Error with anvil's exit status and stderr when it exits or does not answer within `startTimeoutMs`.
 * @example
 * ```ts
 * const anvil = await startAnvil();
 * try {
 *   const client = createPublicClient({ transport: http(anvil.rpcUrl) });
 *   // ...
 * } finally {
 *   await anvil.stop();
 * }
 * ```
 */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<Anvil> {
  const { port: requestedPort, blockTime, noMining, chainId, extraArgs = [] } = options;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  if (
    requestedPort !== undefined &&
    (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65_535)
  ) {
    throw new RangeError(`startAnvil: port must be an integer in 0..65535, got ${requestedPort}`);
  }
  if (blockTime !== undefined && !(blockTime > 0)) {
    throw new RangeError(`startAnvil: blockTime must be a positive number of seconds, got ${blockTime}`);
  }
  for (const reserved of ['--host', '--port', '-p', '--silent']) {
    if (extraArgs.includes(reserved))
      throw new Error(`startAnvil: ${reserved} is set by startAnvil; remove it from extraArgs`);
  }

  // On Linux the port is read from /proc and anvil can stay silent; elsewhere its banner tells the port.
  const readPortFromProc = process.platform === 'linux';
  const binary = options.binaryPath ?? anvilBinaryPath();
  const args = ['--host', '127.0.0.1', '--port', String(requestedPort ?? 0)];
  if (readPortFromProc) args.push('--silent');
  if (chainId !== undefined) args.push('--chain-id', String(chainId));
  if (blockTime !== undefined) args.push('--block-time', String(blockTime));
  if (noMining) args.push('--no-mining');
  args.push(...extraArgs);

  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let spawnError: Error | undefined;
  let exitStatus: string | undefined;
  let stdoutTail = '';
  let stderrTail = '';
  let bannerPort: number | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      if (child.pid === undefined) resolve(); // never started: no 'exit' will follow
    });
  });
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdoutTail = appendTail(stdoutTail, chunk);
    if (bannerPort === undefined) {
      const match = /Listening on (?:\[[^\]]*\]|[^\s:]+):(\d+)/.exec(stdoutTail);
      if (match?.[1] !== undefined) bannerPort = Number(match[1]);
    }
  });
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = appendTail(stderrTail, chunk);
  });

  const pid = child.pid;
  const guard = guardChild(child, 'clawd402-anvil-guard');

  const describe = (what: string): Error => {
    const output: string[] = [];
    if (stderrTail.trim()) output.push(`anvil stderr:\n${stderrTail.trim()}`);
    if (stdoutTail.trim()) output.push(`anvil stdout (tail):\n${stdoutTail.trim().slice(-2_000)}`);
    if (output.length === 0) output.push('(anvil printed nothing)');
    return new Error(`startAnvil: ${what}\ncommand: ${binary} ${args.join(' ')}\n${output.join('\n')}`, {
      cause: spawnError,
    });
  };

  const deadline = Date.now() + startTimeoutMs;
  let port: number | undefined;
  let answeredChainId: number | undefined;
  let lastProbeError: unknown;
  try {
    for (;;) {
      if (spawnError && pid === undefined) throw describe(`cannot run anvil: ${spawnError.message}`);
      if (exitStatus !== undefined) throw describe(`anvil exited during startup (${exitStatus})`);
      if (Date.now() > deadline) {
        throw describe(
          `anvil did not answer eth_chainId within ${startTimeoutMs} ms` +
            (port === undefined ? ' (no listening port seen)' : ` on 127.0.0.1:${port}`) +
            (lastProbeError instanceof Error ? ` — last error: ${lastProbeError.message}` : ''),
        );
      }
      if (port === undefined && pid !== undefined) {
        if (readPortFromProc) {
          try {
            port = listeningTcpPorts(pid)[0];
          } catch {
            // process gone or /proc not readable yet; the exit check above reports the former
          }
        } else {
          port = bannerPort;
        }
      }
      if (port !== undefined) {
        try {
          answeredChainId = await rpcChainId(port, 2_000);
          break;
        } catch (error) {
          lastProbeError = error;
        }
      }
      await Promise.race([sleep(20), exited]);
    }
    if (chainId !== undefined && answeredChainId !== chainId) {
      throw describe(`anvil answered chain id ${answeredChainId}, expected ${chainId}`);
    }
  } catch (error) {
    guard.disarm();
    if (exitStatus === undefined && pid !== undefined) child.kill('SIGKILL');
    await exited;
    throw error;
  }

  // Do not hold the event loop open: a test that forgets stop() still finishes, and the 'exit' hook kills anvil.
  child.unref();
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      guard.disarm();
      if (exitStatus !== undefined) return;
      child.ref(); // keep the process alive until anvil has really exited
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  return Object.freeze({
    rpcUrl: `http://127.0.0.1:${port}`,
    port,
    chainId: answeredChainId,
    pid: pid!,
    stop,
  });
}
