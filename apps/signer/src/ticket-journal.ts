import { appendFileSync, closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { SignerConfigError } from './keystore.ts';

/**
 * How long a used `jti` is remembered past its `exp`, in seconds. A ticket is refused once expired anyway; the margin
 * covers a wall clock stepped backwards a little.
 */
export const JOURNAL_GRACE_SECONDS = 60;
const PRUNE_EVERY_SECONDS = 10;

export interface TicketJournalOptions {
  /** Append-only file of used tickets; loaded at open so a restart still refuses reuse. In memory only if omitted. */
  path?: string;
  /** Clock in milliseconds since the epoch. */
  now?: () => number;
  /** Told how many torn trailing lines were skipped at load (a crash mid-append). */
  onTornLine?: () => void;
}

/**
 * The used-ticket journal: `jti → exp`, pruned after expiry. {@link claim} checks and records in one synchronous step,
 * and appends to the file before it returns, so a ticket is spent before anything is signed with it.
 */
export class TicketJournal {
  readonly #used = new Map<string, number>();
  readonly #now: () => number;
  readonly #fd: number | undefined;
  #lastPrune = 0;

  constructor(options: TicketJournalOptions = {}) {
    this.#now = options.now ?? Date.now;
    if (options.path !== undefined) {
      this.#load(options.path, options.onTornLine);
      this.#compact(options.path);
      this.#fd = openSync(options.path, 'a', 0o600);
    }
  }

  /** Number of remembered tickets. */
  get size(): number {
    return this.#used.size;
  }

  has(jti: string): boolean {
    return this.#used.has(jti);
  }

  /**
   * Spend a ticket: false if it was already used, otherwise record it (memory, then file) and return true. Throws if
   * the file append fails; the ticket then stays spent in memory, and the caller must not sign (fail closed).
   */
  claim(jti: string, exp: number): boolean {
    this.#maybePrune();
    if (this.#used.has(jti)) return false;
    this.#used.set(jti, exp);
    if (this.#fd !== undefined) appendFileSync(this.#fd, `${JSON.stringify({ jti, exp })}\n`);
    return true;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  #maybePrune(): void {
    const now = this.#nowSeconds();
    if (now - this.#lastPrune < PRUNE_EVERY_SECONDS) return;
    this.#lastPrune = now;
    for (const [jti, exp] of this.#used) if (exp + JOURNAL_GRACE_SECONDS < now) this.#used.delete(jti);
  }

  #load(path: string, onTornLine?: () => void): void {
    if (!existsSync(path)) return;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new SignerConfigError(`ticket journal ${path} cannot be read`, { cause });
    }
    const lines = text.split('\n');
    const now = this.#nowSeconds();
    lines.forEach((line, index) => {
      if (line === '') return;
      const entry = parseEntry(line);
      if (entry === undefined) {
        // Only the last line can be torn by a crash mid-append (and then nothing was signed with it). A bad line
        // anywhere else means the file was damaged: refuse to start rather than forget which tickets were spent.
        if (index === lines.length - 1) {
          onTornLine?.();
          return;
        }
        throw new SignerConfigError(`ticket journal ${path} is corrupt at line ${index + 1}`);
      }
      if (entry.exp + JOURNAL_GRACE_SECONDS >= now) this.#used.set(entry.jti, entry.exp);
    });
    this.#lastPrune = now;
  }

  /** Rewrite the file with only the entries still remembered (temp file + rename, so a crash keeps the old one). */
  #compact(path: string): void {
    const temp = `${path}.${process.pid}.tmp`;
    let body = '';
    for (const [jti, exp] of this.#used) body += `${JSON.stringify({ jti, exp })}\n`;
    rmSync(temp, { force: true });
    writeFileSync(temp, body, { mode: 0o600, flag: 'wx' });
    renameSync(temp, path);
  }
}

function parseEntry(line: string): { jti: string; exp: number } | undefined {
  try {
    const value = JSON.parse(line) as { jti?: unknown; exp?: unknown } | null;
    if (value && typeof value.jti === 'string' && Number.isSafeInteger(value.exp)) return { jti: value.jti, exp: value.exp as number };
  } catch {
    // fall through
  }
  return undefined;
}
