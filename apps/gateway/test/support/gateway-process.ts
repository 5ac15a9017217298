import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { guardChild } from '@clawd402/testkit';
import { TSX_LOADER } from '../../src/dev/signer-process.ts';
import type { Stack } from './stack.ts';

const GATEWAY_SERVER = new URL('../../src/server.ts', import.meta.url).pathname;

/** A gateway running as its own OS process, with everything it wrote to stdout and stderr so far. */
export interface CapturedGateway {
  baseUrl: string;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * Start src/server.ts as its own OS process with the stack's environment plus `extraEnv`, capture all it writes, and
 * answer once it logs that it listens (rejects if it exits first). stop() sends SIGTERM and waits for the exit.
 */
export async function spawnCapturedGateway(stack: Stack, extraEnv: Record<string, string>): Promise<CapturedGateway> {
  const chunks: string[] = [];
  const child = spawn(process.execPath, ['--import', TSX_LOADER, GATEWAY_SERVER], {
    env: { ...process.env, ...stack.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  guardChild(child); // dies with this test file, however it ends
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  // Only this listener goes once it listens: the guard's own 'exit' listener must stay to disarm it.
  let exitedEarly = (_code: number | null): void => {};
  const baseUrl = await new Promise<string>((resolve, reject) => {
    exitedEarly = (code) => reject(new Error(`gateway process exited with ${code}: ${chunks.join('')}`));
    child.once('exit', exitedEarly);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"event":"listening"')) resolve((JSON.parse(line) as { url: string }).url);
    });
  });
  child.off('exit', exitedEarly);
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
    else child.once('exit', resolve);
  });
  return {
    baseUrl,
    output: () => chunks.join(''),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** A gateway process that may die on its own (the crash tests arm FAULT_POINT): how it ended, once it has. */
export interface CrashableGateway {
  /** Null when the process died before it listened (e.g. its tracker reached the armed point at start). */
  baseUrl: string | null;
  /** Resolves with the signal that ended the process (`SIGKILL` at a fault point), or its exit code. */
  exited: Promise<NodeJS.Signals | number | null>;
  /** SIGTERM (if it still runs) and wait for the exit. */
  stop: () => Promise<void>;
}

/**
 * Start src/server.ts as its own OS process with the stack's environment plus `extraEnv`, and answer once it listens
 * or has exited, whichever comes first. Its output goes to the test's stderr.
 */
export async function spawnCrashableGateway(stack: Stack, extraEnv: Record<string, string>): Promise<CrashableGateway> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, GATEWAY_SERVER], {
    env: { ...process.env, ...stack.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  guardChild(child); // dies with this test file, however it ends
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const listening = new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"event":"listening"')) resolve((JSON.parse(line) as { url: string }).url);
      else process.stderr.write(`${line}\n`);
    });
  });
  const baseUrl = await Promise.race([listening, exited.then(() => null)]);
  return {
    baseUrl,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
