import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './cli-error.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** Shown in --help, e.g. `FILE`. */
  value?: string;
  description: string;
  /** Environment variable read when the option is absent (documented in --help). */
  env?: string;
}

/** What a command writes: one JSON document with `--json`, else lines for a person. */
export interface Output {
  readonly json: boolean;
  /** A progress or result line for a person (stderr under --json, so stdout stays one JSON document). */
  info(line: string): void;
}

/** A positional argument after the options, e.g. the approval id of `approvals show ID`. */
export interface ArgSpec {
  name: string;
  description: string;
}

export type Options = Record<string, string | boolean | string[] | undefined>;

export interface Command<R = unknown> {
  /** Words after `clawd402`, e.g. `['backup', 'create']`. */
  path: readonly string[];
  /** Positional arguments, all required, in order (none by default: stray words are usage errors). */
  args?: readonly ArgSpec[];
  summary: string;
  /** Longer help text shown under the usage line. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** `options` holds the parsed options and, under their names, the positional arguments. */
  run(options: Options, out: Output, env: NodeJS.ProcessEnv): Promise<R>;
  /** Lines for a person describing the result (without --json). */
  render?(result: R): string[];
}

const COMMON: Record<string, OptionSpec> = {
  help: { type: 'boolean', description: 'show this help and exit' },
  json: { type: 'boolean', description: 'print the result (or the error) as one JSON document on stdout' },
};

export function renderHelp(command: Command): string {
  const all = { ...command.options, ...COMMON };
  const rows = Object.entries(all).map(([name, spec]) => {
    const flag = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    const env = spec.env ? ` (env ${spec.env})` : '';
    return `  ${flag.padEnd(34)} ${spec.description}${env}`;
  });
  const args = command.args ?? [];
  return [
    `usage: clawd402 ${command.path.join(' ')} [options]${args.map((a) => ` ${a.name}`).join('')}`,
    '',
    command.summary,
    ...(command.details ? ['', command.details] : []),
    ...(args.length ? ['', 'arguments:', ...args.map((a) => `  ${a.name.padEnd(34)} ${a.description}`)] : []),
    '',
    'options:',
    ...rows,
    '',
  ].join('\n');
}

export function renderGroupHelp(prefix: readonly string[], commands: readonly Command[]): string {
  const below = commands.filter((c) => prefix.every((word, i) => c.path[i] === word));
  const rows = below.map((c) => `  ${c.path.join(' ').padEnd(24)} ${c.summary}`);
  return [
    `usage: clawd402 ${[...prefix, '<command>'].join(' ')} [options]`,
    '',
    'commands:',
    ...rows,
    '',
    'Every command takes --help and --json. Exit status: 0 ok, 1 a check failed, 2 usage, 3 refused or denied (nothing',
    'changed), 4 a service or the gateway cannot be reached, 5 not logged in or the session is not usable, 6 not found,',
    '70 internal error (docs/cli.md).',
    '',
  ].join('\n');
}

/** Parse `argv` (after the command words) strictly for `command`; unknown options and stray words are usage errors. */
export function parseCommandArgs(command: Command, argv: string[], env: NodeJS.ProcessEnv): Options {
  const all = { ...command.options, ...COMMON };
  const specs = command.args ?? [];
  const config: ParseArgsConfig = {
    args: attachStringValues(argv, all),
    strict: true,
    allowPositionals: specs.length > 0,
    options: Object.fromEntries(
      Object.entries(all).map(([name, spec]) => [name, { type: spec.type, multiple: spec.multiple ?? false }]),
    ),
  };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs(config));
  } catch (error) {
    throw new CliError('usage', `${(error as Error).message} (see clawd402 ${command.path.join(' ')} --help)`);
  }
  if (!values.help && positionals.length !== specs.length)
    throw new CliError(
      'usage',
      `expected ${specs.length ? specs.map((a) => a.name).join(' ') : 'no arguments'} (see clawd402 ${command.path.join(' ')} --help)`,
    );
  specs.forEach((spec, i) => (values[spec.name] = positionals[i]));
  for (const [name, spec] of Object.entries(all)) {
    if (values[name] === undefined && spec.env && env[spec.env] !== undefined && env[spec.env] !== '') {
      values[name] = spec.type === 'boolean' ? env[spec.env] === '1' || env[spec.env] === 'true' : env[spec.env];
    }
  }
  return values as Options;
}

/**
 * `--name VALUE` → `--name=VALUE` for string options, so a value that starts with a dash (a base64url signature
 * does one time in 64) is taken as the value, as git and curl take it, instead of parseArgs' "argument is ambiguous".
 * Words after `--` are left alone.
 */
export function attachStringValues(argv: readonly string[], options: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return [...out, ...argv.slice(i)];
    const name = word.startsWith('--') && !word.includes('=') ? word.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && i + 1 < argv.length) {
      out.push(`${word}=${argv[++i]!}`);
    } else {
      out.push(word);
    }
  }
  return out;
}

/** The string value of a required option, or a `config_missing` error naming it (and its env fallback). */
export function required(options: Record<string, unknown>, name: string, command: Command): string {
  const value = options[name];
  if (typeof value === 'string' && value.length > 0) return value;
  const env = command.options[name]?.env;
  throw new CliError(
    'config_missing',
    `--${name}${env ? ` (or ${env})` : ''} is required (see clawd402 ${command.path.join(' ')} --help)`,
  );
}
