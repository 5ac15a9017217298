import type pg from 'pg';
import { lintPolicySet, loadPolicySet, PolicyLoadError, type PolicyFormat, type PolicySet } from '@clawd402/policy';
import { Clawd402Error, logEvent } from '@clawd402/protocol';
import { ConfigError } from '../config.ts';
import { withTransaction } from '../db/pool.ts';
import type { Logger } from '../domain/logger.ts';
import { appendAuditBatch } from '../repositories/audit-repository.ts';
import {
  activatePolicyVersion,
  activePolicyVersionNumber,
  findActivePolicy,
  findActivePolicyVersion,
  findPolicyVersion,
  insertPolicyVersion,
  lockPolicies,
  type PolicyLint,
} from '../repositories/policies-repository.ts';
import { listChannelNames } from '../repositories/notifications-repository.ts';

/** What the linter is told about this installation. */
export interface PolicyLintSettings {
  /** In production an unconfigured notification channel is a lint error (elsewhere a warning). */
  production: boolean;
  /** The notification channels configured now (default: read from Postgres, `notification_channels`). */
  channels?: () => Promise<readonly string[]>;
}

async function lintWith(set: PolicySet, options: Pick<PolicyStoreOptions, 'pool' | 'lint'>): Promise<PolicyLint> {
  const channels = await (options.lint.channels ?? (() => listChannelNames(options.pool)))();
  const result = lintPolicySet(set, { configuredChannels: channels, production: options.lint.production });
  return { errors: [...result.errors], warnings: [...result.warnings] };
}

/** Load a set, answering a text that does not load with `422 policy_invalid` and the loader's issues. */
export function compilePolicy(text: string, format: PolicyFormat): PolicySet {
  try {
    return loadPolicySet(text, { format });
  } catch (error) {
    if (error instanceof PolicyLoadError) {
      throw new Clawd402Error('policy_invalid', error.message, { details: { issues: error.issues } });
    }
    throw error;
  }
}

/** `json` for a `.json` file, else `yaml` (the YAML loader also reads JSON). */
export function policyFormatOf(source: string): PolicyFormat {
  return /\.json$/i.test(source) ? 'json' : 'yaml';
}

/** Decides every intent when the active version cannot be loaded by this build: nothing matches, all is denied. */
const DENY_ALL: PolicySet = loadPolicySet('policies: []');

export interface PolicyStoreOptions {
  pool: pg.Pool;
  log: Logger;
  /** The configured set (POLICY_FILE, or inline text): imported as a version and activated when none is active. */
  configured: { text: string; source: string };
  lint: PolicyLintSettings;
}

/** Which version the store decides with. */
export interface LoadedPolicy {
  version: number;
  hash: string;
  /** False when this build could not load the active version and the store denies everything (fail closed). */
  loaded: boolean;
}

/**
 * The active policy set of this gateway process, kept compiled in memory so `current()` is synchronous.
 *
 * Postgres is the source of truth (migrations/0006_policy_versions.sql). `open()` makes sure a version is active —
 * importing the configured POLICY_FILE as the first version, by `system`, if none is (once, under an advisory lock,
 * however many processes boot together) — and loads it. An active version in the database always wins over the
 * file. The `policy-follower` worker (workers/gateway-workers.ts) carries an activation anywhere to this process: it
 * calls `refresh()` on every NOTIFY of the policy channel (LISTEN on a dedicated connection, reconnected after any
 * error) and, as a fallback, every second.
 *
 * If this build cannot load the active version (say, a newer gateway wrote it), the store fails closed: it logs an
 * error and decides everything as `reject` until a loadable version is activated.
 */
export class PolicyStore {
  private set: PolicySet;
  private loaded: LoadedPolicy;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  private constructor(
    private readonly options: PolicyStoreOptions,
    initial: { set: PolicySet; version: number },
  ) {
    this.set = initial.set;
    this.loaded = { version: initial.version, hash: initial.set.hash, loaded: true };
  }

  /** Ensure a version is active (importing the configured set if none is) and load it. Throws if it cannot. */
  static async open(options: PolicyStoreOptions): Promise<PolicyStore> {
    const { pool, log, configured } = options;
    const format = policyFormatOf(configured.source);
    let fileSet: PolicySet | null = null;
    let fileError: Clawd402Error | null = null;
    try {
      fileSet = compilePolicy(configured.text, format);
    } catch (error) {
      if (!(error instanceof Clawd402Error)) throw error;
      fileError = error;
    }

    // Linted before the transaction: the embedded default's pool has a single connection.
    const fileLint = fileSet ? await lintWith(fileSet, options) : null;
    const imported = await withTransaction(pool, async (client) => {
      await lockPolicies(client);
      if (await findActivePolicy(client)) return null;
      if (!fileSet || !fileLint)
        throw new ConfigError('POLICY_FILE', `${configured.source} does not load: ${fileError?.message}`);
      const lint = fileLint;
      // The file was the configuration before versions existed, so outside production a set with lint errors is
      // still imported and activated (the errors are stored with it and logged); production refuses to start.
      if (lint.errors.length > 0) {
        const detail = `${configured.source} has lint errors: ${JSON.stringify(lint.errors)}`;
        if (options.lint.production)
          throw new ConfigError(
            'POLICY_FILE',
            `${detail}; fix them (production never activates a set with lint errors)`,
          );
        log.warn(
          { source: configured.source, lintErrors: lint.errors },
          'policy: POLICY_FILE has lint errors; activated anyway outside production',
        );
      }
      const created = await insertPolicyVersion(client, {
        content: configured.text,
        format,
        hash: fileSet.hash,
        author: 'system',
        lint,
      });
      await activatePolicyVersion(client, created.version, 'system');
      const subject = `policy:${created.version}`;
      await appendAuditBatch(client, [
        {
          actor: 'system:gateway',
          action: 'policy.created',
          subject,
          data: {
            version: created.version,
            hash: created.hash,
            format,
            source: configured.source,
            lintErrors: lint.errors.length,
            lintWarnings: lint.warnings.length,
          },
        },
        {
          actor: 'system:gateway',
          action: 'policy.activated',
          subject,
          data: {
            version: created.version,
            hash: created.hash,
            previousVersion: null,
            reason: 'no active version at boot',
          },
        },
      ]);
      return created;
    });

    const active = await findActivePolicyVersion(pool);
    if (!active) throw new Error('no active policy version after the boot import');
    let set: PolicySet;
    try {
      set = compilePolicy(active.content, active.format);
    } catch (error) {
      throw new Error(
        `the active policy version ${active.version} does not load in this build: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const facts = {
      version: active.version,
      hash: set.hash,
      activatedBy: active.activatedBy,
      activatedAt: active.activatedAt.toISOString(),
      source: configured.source,
    };
    if (imported) {
      log.info(
        facts,
        `policy: no version was active; imported ${configured.source} as version ${active.version} and activated it`,
      );
    } else {
      log.info(
        facts,
        `policy: version ${active.version} is active in the database and is used; ${configured.source} is not (the database wins once a version is active)`,
      );
      if (fileError)
        log.warn(
          { source: configured.source },
          'policy: the configured POLICY_FILE does not load; it is not used, but fix it before relying on it',
        );
      else if (fileSet && fileSet.hash !== set.hash) {
        log.warn(
          { source: configured.source, fileHash: fileSet.hash, activeHash: set.hash },
          'policy: the configured POLICY_FILE differs from the active version; upload and activate it through /admin/policies to use it',
        );
      }
    }
    return new PolicyStore(options, { set, version: active.version });
  }

  /** The set to decide with, now. Synchronous; never null. */
  current(): PolicySet {
    return this.set;
  }

  /**
   * Lint a set against this installation as it is now (its configured notification channels, production or not).
   * A version is linted when it is uploaded (the result is stored with it) and again when it is activated.
   */
  lint(set: PolicySet): Promise<PolicyLint> {
    return lintWith(set, this.options);
  }

  /** Which version `current()` is. */
  active(): LoadedPolicy {
    return { ...this.loaded };
  }

  /**
   * Read the active pointer and load its version if it is not the one in memory. Refreshes run one at a time, and a
   * call made while one runs is answered by one more run after it, so the last read always wins. Never rejects:
   * a database error is logged and the set in memory stays until the next poll.
   */
  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running.then(() => {
        this.queued = null;
        return this.run();
      });
      return this.queued;
    }
    return this.run();
  }

  private run(): Promise<void> {
    const work = this.load().finally(() => {
      if (this.running === work) this.running = null;
    });
    this.running = work;
    return work;
  }

  private async load(): Promise<void> {
    const { pool, log } = this.options;
    try {
      const version = await activePolicyVersionNumber(pool);
      if (version === null) {
        if (this.loaded.loaded || this.loaded.version !== 0) {
          logEvent(log, 'system.policy_unavailable', { version: null });
          this.set = DENY_ALL;
          this.loaded = { version: 0, hash: DENY_ALL.hash, loaded: false };
        }
        return;
      }
      if (version === this.loaded.version) return;
      const row = await findPolicyVersion(pool, version);
      if (!row) return; // the pointer moved again in between; the next read sees it
      try {
        this.set = compilePolicy(row.content, row.format);
        this.loaded = { version, hash: this.set.hash, loaded: true };
        logEvent(log, 'system.policy_applied', { version, hash: this.set.hash });
      } catch (error) {
        this.set = DENY_ALL;
        this.loaded = { version, hash: row.hash, loaded: false };
        // Activated but it does not load in this build: every intent is denied until a loadable version is activated.
        logEvent(log, 'system.policy_unavailable', { version, err: { message: (error as Error).message } });
      }
    } catch (error) {
      log.warn(
        { err: { message: (error as Error).message } },
        'policy: could not read the active version; keeping the one in memory',
      );
    }
  }
}
