import { CliError } from '../cli-error.ts';
import type { ArgSpec, Command, OptionSpec, Options, Output } from '../command.ts';
import { GATEWAY_OPTION, GatewayClient } from './gateway-client.ts';

/**
 * A command that talks to a gateway with the stored session: it takes --gateway (CLAWD402_URL) and gets a client.
 * Keeps every operator command to its request and its rendering.
 */
export function gatewayCommand<R>(spec: {
  path: string[];
  summary: string;
  details?: string;
  args?: ArgSpec[];
  options?: Record<string, OptionSpec>;
  run: (client: GatewayClient, options: Options, out: Output) => Promise<R>;
  render?: (result: R) => string[];
}): Command<R> {
  return {
    path: spec.path,
    summary: spec.summary,
    ...(spec.details ? { details: spec.details } : {}),
    ...(spec.args ? { args: spec.args } : {}),
    options: { ...spec.options, ...GATEWAY_OPTION },
    run: async (options, out, env) => spec.run(await GatewayClient.open(options, env), options, out),
    ...(spec.render ? { render: spec.render } : {}),
  };
}

/** A path segment from the command line, encoded (an id is never allowed to add path or query). */
export const seg = (value: unknown): string => encodeURIComponent(String(value));

/** A query string from the options that are set (`?a=1&b=2`, or ''). */
export function query(values: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string' && v !== '') q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** A positive integer option, or a usage error naming it. */
export function integerOption(options: Options, name: string): number | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,8}$/.test(v))
    throw new CliError('usage', `--${name} must be a positive whole number`);
  return Number(v);
}

/** A required string option, or a usage error naming it. */
export function stringOption(options: Options, name: string): string {
  const v = options[name];
  if (typeof v !== 'string' || v.trim() === '') throw new CliError('usage', `--${name} is required`);
  return v;
}

/** Rows for a person: columns padded to their widest value. */
export function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export const REASON_OPTION: Record<string, OptionSpec> = {
  reason: { type: 'string', value: 'TEXT', description: 'why (recorded in the audit log)' },
};
export const YES_OPTION: Record<string, OptionSpec> = {
  yes: { type: 'boolean', description: 'do not ask: confirm from a script' },
};
