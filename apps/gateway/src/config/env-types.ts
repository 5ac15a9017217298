import { readFileSync } from 'node:fs';
import { parseUsd } from '../domain/usd.ts';

/**
 * The building blocks of the environment schema (`env-schema.ts`): one `EnvVar` per variable, saying how it is parsed
 * and checked and how docs/configuration.md describes it. Parsers throw `ConfigError` naming the variable; the
 * messages are part of the operator's interface (tests and runbooks match them), so they do not change lightly.
 */

export type Env = Record<string, string | undefined>;
export type NodeEnv = 'development' | 'test' | 'production';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** What a parser knows besides the variable's own text. */
export interface EnvContext {
  readonly nodeEnv: NodeEnv;
  readonly production: boolean;
}

/** Headings of docs/configuration.md, in the order they appear there. */
export const SECTIONS = [
  'Server and HTTP',
  'State: Postgres and Redis',
  'Chains and submission',
  'Signer, tickets and access tokens',
  'Policy and agent input',
  'Rate limits',
  'Money: prices and circuit breakers',
  'Notifications and the console',
  'Simulation and swaps',
  'Embedded default and tools',
  'Alerts',
  'Incidents',
  'Jobs, retention and backups',
] as const;
export type Section = (typeof SECTIONS)[number];

/** One environment variable: how the loader parses and checks it, and what the docs say about it. */
export interface EnvVar<T> {
  readonly section: Section;
  /** One or two sentences for docs/configuration.md. */
  readonly description: string;
  /** Type, format and range, as the docs show them. */
  readonly format: string;
  /** The value used when the variable is unset, as the docs show it; absent when there is none. */
  readonly default?: string;
  /** When the process stops without it ("yes", "in production", "with CIRCUIT_BREAKER_EMAIL", …). */
  readonly required?: string;
  /** What production adds (a refusal or a requirement), in words; the loader or `refuseInProduction` enforces it. */
  readonly production?: string;
  /** Production refuses a non-empty value for which `when` holds, with `message` (checked before `parse`). */
  readonly refuseInProduction?: { readonly when: (raw: string) => boolean; readonly message: string };
  /** The value is a path to a file holding a secret: read once at boot, refused when empty or a placeholder. */
  readonly secret?: boolean;
  /** The message when a required setting is missing (see `EnvReader.require`). */
  readonly missing?: string;
  parse(raw: string | undefined, name: string, context: EnvContext): T;
}

/** Whole secret files that are obviously not a secret. */
const PLACEHOLDER = /^(changeme|change-me|secret|password|placeholder|example|test|dev|todo|xxx+|\*+)$/i;

export function readSecretFile(name: string, path: string | undefined): string {
  if (!path) throw new ConfigError(name, 'is required (a path to a file holding the secret)');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text.trim() === '' || PLACEHOLDER.test(text.trim()))
    throw new ConfigError(name, 'file holds an empty or placeholder secret');
  return text;
}

/** A (non-secret) file the variable names; unreadable stops the boot. */
export function readNamedFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return value;
}

type Described = Pick<EnvVar<unknown>, 'format' | 'default' | 'secret' | 'missing'>;

/** Plain digits in [min, max]; unset or empty: `fallback`. */
export function integer(
  fallback: number,
  min: number,
  max: number,
  unit = '',
): Described & { parse: EnvVar<number>['parse'] } {
  return {
    format: `integer ${min.toLocaleString('en')}–${max.toLocaleString('en')}${unit ? ` ${unit}` : ''}`,
    default: String(fallback),
    parse: (raw, name) => (raw === undefined || raw === '' ? fallback : parseInteger(name, raw, min, max)),
  };
}

/** Plain digits in [min, max]; unset or empty: null. */
export function optionalInteger(min: number, max: number): Described & { parse: EnvVar<number | null>['parse'] } {
  return {
    format: `integer ${min.toLocaleString('en')}–${max.toLocaleString('en')}`,
    parse: (raw, name) => (raw ? parseInteger(name, raw, min, max) : null),
  };
}

/** A non-negative USD amount in micro-USD ("250", "99.5"); unset: `fallback`. */
export function usd(fallback: string): Described & { parse: EnvVar<bigint>['parse'] } {
  return {
    format: 'USD amount, e.g. `250` or `99.5`',
    default: fallback,
    parse: (value, name) => {
      const raw = value ?? fallback;
      const micros = parseUsd(raw);
      if (micros === null)
        throw new ConfigError(name, `must be a non-negative USD amount such as "250" or "99.5", got "${raw}"`);
      return micros;
    },
  };
}

/** Free text; unset: `fallback`. */
export function text(fallback: string, format = 'text'): Described & { parse: EnvVar<string>['parse'] } {
  return { format, default: fallback, parse: (raw) => raw ?? fallback };
}

/** Free text; unset: null (an empty value is kept: the loader's own checks decide what it means). */
export function optionalText(format = 'text'): Described & { parse: EnvVar<string | null>['parse'] } {
  return { format, parse: (raw) => raw ?? null };
}

/** A comma-separated list, trimmed, empty items dropped; unset: `fallback` split the same way. */
export function list(
  fallback: string,
  format = 'comma-separated list',
): Described & { parse: EnvVar<string[]>['parse'] } {
  return { format, ...(fallback ? { default: fallback } : {}), parse: (raw) => splitList(raw ?? fallback) };
}

export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** One of `values` (`message` when not); unset: `fallback`. */
export function oneOf<const V extends string>(
  values: readonly V[],
  fallback: V,
  message: (raw: string) => string,
): Described & { parse: EnvVar<V>['parse'] } {
  return {
    format: values.map((v) => `\`${v}\``).join(' \\| '),
    default: fallback,
    parse: (value, name) => {
      const raw = value ?? fallback;
      if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, message(raw));
      return raw as V;
    },
  };
}

/** A path to a file holding a secret, read at boot; unset or empty: null. `then` turns the file's text into the value. */
export function secretFile(): Described & { parse: EnvVar<string | null>['parse'] };
export function secretFile<T>(
  then: (text: string, name: string) => T,
): Described & { parse: EnvVar<T | null>['parse'] };
export function secretFile<T>(
  then?: (text: string, name: string) => T,
): Described & { parse: EnvVar<T | string | null>['parse'] } {
  return {
    format: 'path to a secret file',
    secret: true,
    missing: 'is required (a path to a file holding the secret)',
    parse: (raw, name) => {
      if (!raw) return null;
      const content = readSecretFile(name, raw);
      return then ? then(content, name) : content;
    },
  };
}

/** A path to a (non-secret) file, read at boot; unset or empty: null. */
export function namedFile<T>(
  then: (text: string, name: string) => T,
  format = 'path to a file',
): Described & { parse: EnvVar<T | null>['parse'] } {
  return { format, parse: (raw, name) => (raw ? then(readNamedFile(name, raw), name) : null) };
}
