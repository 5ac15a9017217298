import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Address } from 'viem';

const REPO_ROOT = new URL('../../../../', import.meta.url).pathname;
export const SIGNER_CLI = join(REPO_ROOT, 'apps/signer/src/cli.ts');

export interface SignerProcess {
  child: ChildProcess;
  addresses: Address[];
  socket: string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
}

/** The TypeScript loader, resolved from here so the child can run with any working directory. */
export const TSX_LOADER = import.meta.resolve('tsx');

/** The signer's log (stderr) goes to the parent's stderr, or appended to `logFile`. */
function spawnSignerCli(args: string[], cwd: string, env?: Record<string, string>, logFile?: string): ChildProcess {
  const log = logFile ? openSync(logFile, 'a', 0o600) : 'inherit';
  try {
    return spawn(process.execPath, ['--import', TSX_LOADER, SIGNER_CLI, ...args], {
      cwd,
      ...(env ? { env: { ...process.env, ...env } } : {}),
      stdio: ['ignore', 'pipe', log],
    });
  } finally {
    if (typeof log === 'number') closeSync(log); // the child holds its own copy
  }
}

/** `clawd402-signer keystore new`: the key is generated inside the signer process; only its address comes back. */
export async function createSignerKeystore(options: {
  out: string;
  passwordFile: string;
  scryptN?: number;
  cwd: string;
}): Promise<Address> {
  const child = spawnSignerCli(
    [
      'keystore',
      'new',
      '--out',
      options.out,
      '--password-file',
      options.passwordFile,
      ...(options.scryptN ? ['--scrypt-n', String(options.scryptN)] : []),
    ],
    options.cwd,
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`signer keystore new failed with code ${code}`);
  return (JSON.parse(out.trim().split('\n').pop()!) as { address: Address }).address;
}

/** Start `clawd402-signer serve` as a child process and wait for its ready line. */
export async function startSignerProcess(options: {
  socket: string;
  keystores: string[];
  /** A key directory (`--key-dir`: keystores and HD wallets with metadata), served beside the keystores. */
  keyDir?: string;
  passwordFile: string;
  gatewayKeyFile: string;
  chains: number[];
  journal?: string;
  /** Audit checkpoint directory (`--checkpoint-dir`). */
  checkpointDir?: string;
  /** The signer's own policy file (its caps, independent of the gateway's policy). */
  policy?: string;
  /** The owners' Ed25519 release keys (`--release-key`): what lifts the kill-switch latch. */
  releaseKeyFile?: string;
  logLevel?: string;
  cwd: string;
  /** Added to the inherited environment (the crash tests' SIGNER_FAULT_POINT). */
  env?: Record<string, string>;
  /** Append the signer's log lines to this file instead of the parent's stderr (tests that read them). */
  logFile?: string;
}): Promise<SignerProcess> {
  const args = [
    'serve',
    '--socket',
    options.socket,
    '--password-file',
    options.passwordFile,
    '--gateway-key',
    options.gatewayKeyFile,
    '--chains',
    options.chains.join(','),
    ...options.keystores.flatMap((k) => ['--keystore', k]),
    ...(options.keyDir ? ['--key-dir', options.keyDir] : []),
    ...(options.journal ? ['--journal', options.journal] : []),
    ...(options.checkpointDir ? ['--checkpoint-dir', options.checkpointDir] : []),
    ...(options.policy ? ['--policy', options.policy] : []),
    ...(options.releaseKeyFile ? ['--release-key', options.releaseKeyFile] : []),
    ...(options.logLevel ? ['--log-level', options.logLevel] : []),
  ];
  const child = spawnSignerCli(args, options.cwd, options.env, options.logFile);
  const lines = createInterface({ input: child.stdout! });
  const addresses = await new Promise<Address[]>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`signer exited with code ${code} before it was ready`)));
    lines.on('line', (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; keys?: { address: Address }[] };
        if (event.event === 'ready' && event.keys) resolve(event.keys.map((k) => k.address));
      } catch {
        /* not a JSON line */
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    child,
    addresses,
    socket: options.socket,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
