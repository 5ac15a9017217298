import { readFileSync } from 'node:fs';
import { SignerConfigError } from './keystore.ts';

/**
 * Process-level hardening the signer checks for itself at start. Node cannot call setrlimit(2), prctl(2) or read
 * SO_PEERCRED, so the controls that need those live in the service manager (deploy/systemd, docker-compose.yml) and
 * the signer verifies what it can see:
 *
 * - core dumps: the soft RLIMIT_CORE from /proc/self/limits must be 0 (LimitCORE=0, `ulimit -c 0`);
 * - user: not root (a dedicated user, so a socket mode of 0600 shuts everyone else out);
 * - environment: no variable that looks like a secret (passwords come from files only).
 *
 * In production each failed check refuses to start unless explicitly overridden; elsewhere it is a warning.
 */
export interface IsolationReport {
  problems: { check: 'core_dumps' | 'root' | 'secret_env'; message: string }[];
}

const SECRET_ENV = /(PASSWORD|PASSPHRASE|MNEMONIC|PRIVATE_?KEY|SEED_?PHRASE)/i;

/** The soft core-file size limit of this process, in bytes (null: unlimited; undefined: not Linux / unreadable). */
export function coreDumpLimit(limitsText?: string): number | null | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const line = text.split('\n').find((l) => l.startsWith('Max core file size'));
  if (!line) return undefined;
  const soft = line.slice('Max core file size'.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return null;
  const n = Number(soft);
  return Number.isFinite(n) ? n : undefined;
}

export function checkIsolation(options: {
  env: NodeJS.ProcessEnv;
  uid: number | undefined;
  allowRoot: boolean;
  allowCoreDumps: boolean;
  limitsText?: string;
}): IsolationReport {
  const problems: IsolationReport['problems'] = [];
  const core = coreDumpLimit(options.limitsText);
  if (!options.allowCoreDumps && core !== 0 && core !== undefined) {
    problems.push({
      check: 'core_dumps',
      message:
        'core dumps are enabled (RLIMIT_CORE is not 0): a crash could write key material to disk; run with LimitCORE=0 or `ulimit -c 0`',
    });
  }
  if (!options.allowRoot && options.uid === 0) {
    problems.push({
      check: 'root',
      message: 'the signer runs as root; run it as its own unprivileged user (User=clawd402-signer)',
    });
  }
  const secretNames = Object.keys(options.env).filter((name) => SECRET_ENV.test(name) && !/_FILE$/i.test(name));
  if (secretNames.length > 0) {
    problems.push({
      check: 'secret_env',
      message: `environment variables that look like secrets are set (${secretNames.join(', ')}); pass secrets as files (--password-file)`,
    });
  }
  return { problems };
}

/** Throw on the first problem (production), or hand each to `warn`. */
export function enforceIsolation(report: IsolationReport, production: boolean, warn: (message: string) => void): void {
  for (const problem of report.problems) {
    if (production) throw new SignerConfigError(`${problem.message} (refusing to start in production)`);
    warn(problem.message);
  }
}
