import { CliError } from '../cli-error.ts';

/**
 * Asking the operator: secrets come from a terminal without echo, or from stdin for scripts (`--password-stdin`,
 * `--totp-stdin`), never from the command line. Prompts go to stderr so stdout stays the command's result.
 */

export const isInteractive = (): boolean => Boolean(process.stdin.isTTY);

let stdinLines: Promise<string[]> | null = null;

/** Every line of stdin (read once, to its end; at most 64 KiB). */
function readStdinLines(): Promise<string[]> {
  stdinLines ??= new Promise<string[]>((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 65_536) {
        process.stdin.destroy();
        reject(new CliError('usage', 'stdin is longer than 64 KiB'));
      }
    });
    process.stdin.once('end', () => resolve(text.split(/\r?\n/)));
    process.stdin.once('error', () => reject(new CliError('usage', 'stdin cannot be read')));
  });
  return stdinLines;
}

/** Line `index` of stdin (0-based), without its line ending; '' when stdin has fewer lines. */
export async function stdinLine(index: number): Promise<string> {
  return (await readStdinLines())[index] ?? '';
}

/** One line from the terminal; with `hidden`, typed characters are not echoed. */
export function ask(question: string, hidden = false): Promise<string> {
  if (!isInteractive())
    throw new CliError('confirmation_required', `cannot ask "${question.trim()}" without a terminal`);
  const stdin = process.stdin;
  return new Promise<string>((resolve, reject) => {
    let answer = '';
    // Echo off before the prompt shows: a reply typed as soon as the prompt appears must not be echoed
    // (regression: CI under load echoed the password typed between the prompt and setRawMode).
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.setEncoding('utf8');
    stdin.resume();
    const finish = (error: CliError | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(null);
        if (ch === '\u0003' || ch === '\u0004') return finish(new CliError('not_confirmed', 'interrupted'));
        if (ch === '\u007f' || ch === '\b') {
          if (answer.length > 0) {
            answer = answer.slice(0, -1);
            if (!hidden) process.stderr.write('\b \b');
          }
          continue;
        }
        if (ch < ' ') continue;
        answer += ch;
        if (!hidden) process.stderr.write(ch);
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * Ask before a change: `--yes` answers for scripts; on a terminal the operator types y; without either the command is
 * refused (`confirmation_required`) and nothing changes.
 */
export async function confirm(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!isInteractive())
    throw new CliError('confirmation_required', 'no terminal to confirm on: pass --yes to confirm from a script');
  const answer = (await ask(`${question} [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new CliError('not_confirmed');
}
