import { CliError, EXIT } from './cli-error.ts';
import { parseCommandArgs, renderGroupHelp, renderHelp, type Command, type Output } from './command.ts';
import { agentCommands } from './commands/agents.ts';
import { approvalCommands } from './commands/approvals.ts';
import { auditCommands } from './commands/audit.ts';
import { backupCommands } from './commands/backup.ts';
import { intentCommands } from './commands/intents.ts';
import { killSwitchCommands } from './commands/killswitch.ts';
import { policyCommands } from './commands/policy.ts';
import { sessionCommands } from './commands/session.ts';

export const COMMANDS: readonly Command[] = [
  ...sessionCommands,
  ...approvalCommands,
  ...intentCommands,
  ...agentCommands,
  ...policyCommands,
  ...killSwitchCommands,
  ...auditCommands,
  ...backupCommands,
];

/** Find the longest command whose path prefixes argv. */
function match(argv: string[]): { command: Command; rest: string[] } | { prefix: string[] } {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-')) break;
    words.push(arg);
  }
  const command =
    COMMANDS.find((c) => c.path.length === words.length && c.path.every((w, i) => words[i] === w)) ??
    COMMANDS.find((c) => c.path.length <= words.length && c.path.every((w, i) => words[i] === w));
  if (command) return { command, rest: argv.slice(command.path.length) };
  return {
    prefix: words.filter((w, i) =>
      COMMANDS.some((c) => c.path[i] === w && words.slice(0, i).every((p, j) => c.path[j] === p)),
    ),
  };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const json = argv.includes('--json');
  const print = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  const fail = (error: CliError): number => {
    if (json)
      print(
        JSON.stringify({
          error: { code: error.code, message: error.message, ...(error.detail ? { detail: error.detail } : {}) },
        }),
      );
    else process.stderr.write(`clawd402: ${error.code}: ${error.message}\n`);
    return error.exit;
  };
  const found = match(argv);
  if ('prefix' in found) {
    const wantsHelp =
      argv.includes('--help') || argv.length === 0 || (argv.length === found.prefix.length && found.prefix.length > 0);
    if (wantsHelp && argv.filter((a) => !a.startsWith('-')).length === found.prefix.length) {
      print(renderGroupHelp(found.prefix, COMMANDS));
      return argv.includes('--help') ? EXIT.ok : EXIT.usage;
    }
    return fail(
      new CliError(
        'usage',
        `unknown command: clawd402 ${argv.filter((a) => !a.startsWith('-')).join(' ')} (see clawd402 --help)`,
      ),
    );
  }
  const { command, rest } = found;
  try {
    const options = parseCommandArgs(command, rest, env);
    if (options.help) {
      print(renderHelp(command));
      return EXIT.ok;
    }
    const out: Output = { json, info: (line) => void (json ? process.stderr : process.stdout).write(`${line}\n`) };
    const result = await command.run(options, out, env);
    if (json) print(JSON.stringify(result));
    else for (const line of command.render?.(result) ?? [JSON.stringify(result)]) print(line);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) return fail(error);
    // Unexpected: print the class only (a message could carry a URL or a secret).
    return fail(new CliError('internal', `unexpected ${(error as Error)?.constructor?.name ?? 'error'}`));
  }
}
