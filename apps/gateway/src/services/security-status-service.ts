import type pg from 'pg';
import type { ListKeysResult, StatusResult } from '@clawd402/protocol';
import type { PolicySet } from '@clawd402/policy';
import type { GatewayConfig } from '../config.ts';
import { databaseTransport, redisTransport } from '../config/transport-security.ts';
import { collectKeyAges } from '../jobs/key-age.ts';
import { readSecurityFacts } from '../repositories/security-status-repository.ts';

/** One item of the baseline: whether it holds, what was seen, and what to do when it does not. */
export interface SecurityCheck {
  id: string;
  title: string;
  ok: boolean;
  /** What the gateway saw (never a secret, a URL or an address of a person). */
  evidence: string;
  /** What the operator must do; null when the check passes. */
  fix: string | null;
}

export interface SecurityStatus {
  generatedAt: Date;
  /** Checks that pass, of `total`. */
  score: number;
  total: number;
  /** `hardened` when every check passes, else `needs_attention`. */
  level: 'hardened' | 'needs_attention';
  checks: SecurityCheck[];
}

/** A scheduled job counts as recent when it succeeded within this long (daily jobs, one missed run of slack). */
const RECENT_MS = 48 * 3_600_000;

function check(id: string, title: string, ok: boolean, evidence: string, fix: string): SecurityCheck {
  return { id, title, ok, evidence, fix: ok ? null : fix };
}

function recent(at: Date | undefined, now: Date): { ok: boolean; evidence: string } {
  if (!at) return { ok: false, evidence: 'never succeeded' };
  const hours = Math.floor((now.getTime() - at.getTime()) / 3_600_000);
  return { ok: now.getTime() - at.getTime() <= RECENT_MS, evidence: `last succeeded ${hours} h ago` };
}

/**
 * `GET /admin/security-status` (docs/security-status.md): the operator's baseline scored from live configuration and
 * state — production rules in force, TLS on every hop, the admin allowlist, default-deny policy, the signer's own
 * policy, a recent audit verification and backup, key ages, owners' second factor — item by item with evidence and
 * what to fix. Read-only; the signer is asked for its status and keys (a failure fails those checks, not the call).
 */
export class SecurityStatusService {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      config: GatewayConfig;
      policy: () => PolicySet;
      signer: { status(): Promise<StatusResult>; listKeys(): Promise<ListKeysResult> };
    },
  ) {}

  async status(): Promise<SecurityStatus> {
    const { config } = this.deps;
    const facts = await readSecurityFacts(this.deps.pool, ['audit-verify', 'backup']);
    const checks: SecurityCheck[] = [];
    const production = config.env === 'production';
    checks.push(
      check(
        'production_mode',
        'Production rules in force',
        production && config.mode !== 'embedded',
        config.mode === 'embedded' ? 'the embedded default (PGlite, dev keys, anvil)' : `NODE_ENV=${config.env}`,
        'Run with NODE_ENV=production: it refuses embedded defaults, placeholder secrets, plaintext state connections and /docs.',
      ),
    );
    checks.push(
      check(
        'https',
        'HTTPS for clients',
        config.tls !== null || config.trustedProxies.length > 0,
        config.tls ? 'native TLS' : config.trustedProxies.length ? 'behind a declared TLS proxy' : 'plain HTTP',
        'Set TLS_CERT_FILE and TLS_KEY_FILE, or TRUSTED_PROXIES for a TLS-terminating proxy.',
      ),
    );
    const database = config.mode === 'embedded' ? null : databaseTransport(config.databaseUrl);
    checks.push(
      check(
        'database_tls',
        'Postgres connection protected in transit',
        database?.ok ?? false,
        database?.reason ?? 'embedded PGlite',
        'Use sslmode=verify-full in DATABASE_URL, or a loopback host or Unix socket.',
      ),
    );
    const redis = config.redisUrl ? redisTransport(config.redisUrl) : null;
    checks.push(
      check(
        'redis_tls',
        'Shared Redis, protected in transit',
        redis?.ok ?? false,
        redis?.reason ?? 'no Redis: the in-process rate-limit store (one replica only)',
        'Set REDIS_URL to a rediss:// URL (or a loopback host or Unix socket).',
      ),
    );
    const openRanges = config.adminAllowedIps.filter(([, prefix]) => prefix === 0).length;
    checks.push(
      check(
        'admin_allowlist',
        '/admin/* reachable only from listed addresses',
        openRanges === 0,
        `${config.adminAllowedIps.length} range(s)${openRanges ? `, ${openRanges} covering every address` : ''}`,
        'List only the operators’ networks in ADMIN_ALLOWED_IPS.',
      ),
    );
    checks.push(
      check(
        'secrets_key',
        'Secrets sealed at rest',
        config.secretsKey !== null,
        config.secretsKey ? 'SECRETS_KEY_FILE set' : 'SECRETS_KEY_FILE unset: TOTP cannot be enrolled',
        'Set SECRETS_KEY_FILE to a file of 32 random bytes.',
      ),
    );
    checks.push(
      check(
        'owners_totp',
        'Every owner uses TOTP',
        facts.owners > 0 && facts.ownersWithoutTotp === 0,
        `${facts.owners} owner(s), ${facts.ownersWithoutTotp} without TOTP`,
        'Each owner enrols TOTP (POST /auth/totp/enroll, then /auth/totp/verify).',
      ),
    );
    const policy = this.deps.policy();
    const catchAll = policy.rules.filter((r) => r.action === 'auto_approve' && Object.keys(r.conditions).length === 0);
    checks.push(
      check(
        'default_deny',
        'The policy denies what no rule allows',
        catchAll.length === 0,
        catchAll.length
          ? `rule(s) ${catchAll.map((r) => r.name).join(', ')} approve everything`
          : `${policy.rules.length} rule(s); the final implicit deny is reachable`,
        'Remove unconditional auto_approve rules; allow by recipient, value and type.',
      ),
    );
    checks.push(await this.signerPolicy());
    const audit = recent(facts.lastSucceeded['audit-verify'], facts.now);
    checks.push(
      check(
        'audit_verified',
        'Audit chain verified recently',
        audit.ok,
        `audit-verify ${audit.evidence}`,
        'Let the audit-verify job run (GET /admin/jobs; POST /admin/jobs/audit-verify/run) and fix what it finds.',
      ),
    );
    const backup = recent(facts.lastSucceeded['backup'], facts.now);
    checks.push(
      check(
        'backups',
        'Encrypted backups taken recently',
        config.jobs.backup.location !== null && backup.ok,
        config.jobs.backup.location ? `backup ${backup.evidence}` : 'BACKUP_LOCATION unset',
        'Set BACKUP_LOCATION and BACKUP_RECIPIENT, and check the backup job succeeds (docs/recovery.md).',
      ),
    );
    const ages = await collectKeyAges({
      pool: this.deps.pool,
      signer: this.deps.signer,
      settings: config.jobs.keyAge,
    });
    const stale = ages.keys.filter((k) => k.level === 'overdue' || k.level === 'critical');
    checks.push(
      check(
        'key_ages',
        `No key in force past ${config.jobs.keyAge.overdueDays} days`,
        stale.length === 0 && !ages.signerUnreachable,
        `${ages.keys.length} key(s) dated, ${stale.length} overdue${
          stale.length ? ` (${stale.map((k) => `${k.kind}:${k.id}`).join(', ')})`.slice(0, 300) : ''
        }${ages.signerUnreachable ? '; signer keys unknown (signer unreachable)' : ''}`,
        'Rotate the keys named (docs/jobs.md, "Key-age reminders").',
      ),
    );
    checks.push(
      check(
        'notifications_public_only',
        'Notifications never go to private addresses',
        !config.notifications.allowPrivateAddresses,
        `NOTIFY_ALLOW_PRIVATE_ADDRESSES=${config.notifications.allowPrivateAddresses}`,
        'Unset NOTIFY_ALLOW_PRIVATE_ADDRESSES.',
      ),
    );
    const score = checks.filter((c) => c.ok).length;
    return {
      generatedAt: facts.now,
      score,
      total: checks.length,
      level: score === checks.length ? 'hardened' : 'needs_attention',
      checks,
    };
  }

  /** The signer answers and enforces its own chain allowlist, covering every chain this gateway serves. */
  private async signerPolicy(): Promise<SecurityCheck> {
    const fix = 'Start the signer with its policy (chain allowlist and caps) covering every chain in CHAIN_RPC_URLS.';
    try {
      const status = await this.deps.signer.status();
      const missing = this.deps.config.chains.map((c) => c.chainId).filter((id) => !status.chains.includes(id));
      return check(
        'signer_policy',
        'Signer policy loaded',
        status.chains.length > 0 && missing.length === 0,
        `signer allows chain(s) ${status.chains.join(', ') || 'none'}${missing.length ? `; not ${missing.join(', ')}` : ''}`,
        fix,
      );
    } catch {
      return check('signer_policy', 'Signer policy loaded', false, 'the signer did not answer', fix);
    }
  }
}
