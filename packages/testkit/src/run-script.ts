import { spawn, type ChildProcess } from 'node:child_process';
import { guardChild } from './child-guard.ts';

/** A TypeScript entry point running as a child process, its output collected as it comes. */
export interface ScriptRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit code once the process has exited and its output is closed (null when a signal ended it). */
  exit: Promise<number | null>;
}

/**
 * Run `node --import tsx <script> ...args` from `cwd`, with only PATH and HOME from this process plus `env`, the
 * way an operator's shell would start a CLI. With `input`, stdin is a pipe that gets `input` and is then closed
 * (never a terminal); without, stdin is closed from the start.
 */
export function runScript(
  script: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  { input }: { input?: string } = {},
): ScriptRun {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  guardChild(child); // a script still running when this process dies (a test file killed on timeout) dies with it
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  if (input !== undefined) {
    child.stdin!.on('error', () => {}); // a script that does not read stdin may exit before the write lands
    child.stdin!.end(input);
  }
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}
