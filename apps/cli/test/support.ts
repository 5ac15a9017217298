// Running the CLI and the signer as real processes, for the CLI's integration tests. Not a test file.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runScript, type ScriptRun } from '@clawd402/testkit';

export const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
export const SIGNER_CLI = fileURLToPath(new URL('../../signer/src/cli.ts', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type Run = ScriptRun;

export function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  return runScript(script, args, REPO_ROOT, env);
}

/** Wait for a CLI run to end: its exit status, the JSON document it printed (else `{ unparsed }`) and its output. */
async function finished(r: Run): Promise<{ status: number | null; json: any; stdout: string; stderr: string }> {
  const status = await r.exit;
  let json: unknown;
  try {
    json = JSON.parse(r.stdout());
  } catch {
    json = { unparsed: r.stdout() };
  }
  return { status, json, stdout: r.stdout(), stderr: r.stderr() };
}

/** Run `clawd402 …args --json` to the end: exit status and the parsed JSON document it printed. */
export async function clawd402(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; json: any; stderr: string }> {
  return finished(run(CLI, [...args, '--json'], env));
}

/** Start `clawd402-signer serve …` and wait for its ready line; stop() sends SIGTERM and waits. */
export async function startSignerProcess(
  args: string[],
): Promise<{ stop: () => Promise<void>; ready: { keys: { id: string; address: string }[] } }> {
  const r = run(SIGNER_CLI, ['serve', ...args]);
  for (;;) {
    const line = r.stdout().split('\n')[0];
    if (line && r.stdout().includes('\n')) {
      return {
        ready: JSON.parse(line),
        stop: async () => {
          r.child.kill('SIGTERM');
          await r.exit;
        },
      };
    }
    const exited = await Promise.race([
      r.exit.then(() => true),
      new Promise<false>((res) => setTimeout(() => res(false), 25)),
    ]);
    if (exited) throw new Error(`signer exited before ready: ${r.stderr()}`);
  }
}

/**
 * Run `clawd402 …args --json` (or without --json) with `input` on stdin (a pipe, so never a terminal): exit status and the JSON document.
 * Only PATH, HOME and `env` reach the child (a test names the config directory with XDG_CONFIG_HOME).
 */
export async function clawd402Input(
  args: string[],
  env: NodeJS.ProcessEnv,
  input = '',
  { json: asJson = true } = {},
): Promise<{ status: number | null; json: any; stdout: string; stderr: string }> {
  return finished(runScript(CLI, [...args, ...(asJson ? ['--json'] : [])], REPO_ROOT, env, { input }));
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run `clawd402 …args` on a pseudo-terminal (util-linux `script`), answering each prompt once it has been printed (so
 * the terminal is already in no-echo mode when a secret is typed). Answers the exit status and everything the
 * terminal showed.
 */
export async function clawd402Tty(
  args: string[],
  env: NodeJS.ProcessEnv,
  answers: { prompt: string; reply: string }[],
): Promise<{ status: number | null; screen: string }> {
  const command = [process.execPath, '--import', 'tsx', CLI, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'dumb', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  let from = 0;
  const pending = [...answers];
  const onOutput = (c: Buffer): void => {
    screen += c.toString('utf8');
    const next = pending[0];
    const at = next ? screen.indexOf(next.prompt, from) : -1;
    if (next && at >= 0) {
      pending.shift();
      from = at + next.prompt.length;
      child.stdin.write(`${next.reply}\r`);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  child.stdin.on('error', () => {});
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { status, screen };
}
