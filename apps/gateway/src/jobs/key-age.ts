import { createHash, createPublicKey } from 'node:crypto';
import type pg from 'pg';
import type { ListKeysResult } from '@clawd402/protocol';
import type { AlertInput, AlertSeverity } from '../repositories/alerts-repository.ts';
import { listStoredKeyAges, type StoredKeyAge } from '../repositories/key-ages-repository.ts';
import { keyAgeLevel, type KeyAgeLevel, type KeyAgeSettings } from '../domain/key-age.ts';
import type { JobDefinition } from './job-runner.ts';

export type { KeyAgeSettings } from '../domain/key-age.ts';

export type KeyKind = StoredKeyAge['kind'] | 'signer_key';

export interface KeyAge {
  kind: KeyKind;
  id: string;
  holder: string | null;
  since: Date;
  ageDays: number;
  level: KeyAgeLevel;
}

export interface KeyAgeReport {
  keys: KeyAge[];
  /** The signer could not be asked for its keys (their ages are then unknown). */
  signerUnreachable: boolean;
}

const DAY_MS = 86_400_000;
const SEVERITY: Record<Exclude<KeyAgeLevel, 'ok'>, AlertSeverity> = {
  due: 'medium',
  overdue: 'high',
  critical: 'critical',
};
const KIND_NAME: Record<KeyKind, string> = {
  agent_api_key: 'Agent API key',
  access_token_key: 'The access-token signing key',
  ticket_key: 'The ticket key',
  notification_secret: 'Notification channel secret',
  signer_key: 'Signer key',
};

/** A key's public id for the record of keys in use: `sha256:` and the first 32 hex digits of its SPKI's digest. */
export function publicKeyFingerprint(privateKeyPem: string): string {
  const spki = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex').slice(0, 32)}`;
}

/**
 * The age of every key in force: what Postgres dates (API keys, access-token and ticket keys, notification secrets)
 * and the signer's active keys from its own metadata (`list_keys`, creation time). Shared by the `key-age` job and
 * `GET /admin/security-status`.
 */
export async function collectKeyAges(deps: {
  pool: pg.Pool;
  signer: { listKeys(): Promise<ListKeysResult> };
  settings: KeyAgeSettings;
}): Promise<KeyAgeReport> {
  const { now, keys: stored } = await listStoredKeyAges(deps.pool);
  let signerUnreachable = false;
  const signerKeys: (Omit<StoredKeyAge, 'kind'> & { kind: 'signer_key' })[] = [];
  try {
    for (const key of (await deps.signer.listKeys()).keys) {
      if (key.state !== 'active' || !key.created) continue;
      const since = new Date(key.created);
      if (!Number.isNaN(since.getTime()))
        signerKeys.push({ kind: 'signer_key', id: key.id, holder: key.address, since });
    }
  } catch {
    signerUnreachable = true;
  }
  const keys = [...stored, ...signerKeys].map((k): KeyAge => {
    const ageDays = Math.max(0, Math.floor((now.getTime() - k.since.getTime()) / DAY_MS));
    return {
      kind: k.kind,
      id: k.id,
      holder: k.holder,
      since: k.since,
      ageDays,
      level: keyAgeLevel(ageDays, deps.settings),
    };
  });
  return { keys, signerUnreachable };
}

/** The alert for a key past `due`: `key_rotation_due` (medium), `_overdue` (high) or `_critical` (critical). */
export function keyAgeAlert(key: KeyAge): AlertInput | null {
  if (key.level === 'ok') return null;
  const holder = key.holder ? ` (${key.holder})` : '';
  return {
    kind: `key_rotation_${key.level}`,
    severity: SEVERITY[key.level],
    subject: `${key.kind}:${key.id}`.slice(0, 200),
    summary: `${KIND_NAME[key.kind]} ${key.id}${holder} is ${key.ageDays} days old: rotate it (${key.level}).`.slice(
      0,
      500,
    ),
    detail: { kind: key.kind, id: key.id, holder: key.holder, since: key.since.toISOString(), ageDays: key.ageDays },
  };
}

/**
 * `key-age` (daily): an alert for every key in force that is due for rotation, overdue or critically overdue. Alerts
 * deduplicate on kind and subject (ALERT_DEDUP_SECONDS), so a daily run reminds once a day per key.
 */
export function keyAgeJob(deps: {
  pool: pg.Pool;
  signer: { listKeys(): Promise<ListKeysResult> };
  alerts: { raise(alert: AlertInput): Promise<unknown> };
  settings: KeyAgeSettings;
  schedule: string;
}): JobDefinition {
  return {
    name: 'key-age',
    schedule: deps.schedule,
    async run() {
      const report = await collectKeyAges(deps);
      const counts = { keys: report.keys.length, due: 0, overdue: 0, critical: 0 };
      for (const key of report.keys) {
        const alert = keyAgeAlert(key);
        if (!alert) continue;
        counts[key.level as 'due' | 'overdue' | 'critical'] += 1;
        await deps.alerts.raise(alert);
      }
      return { outcome: 'succeeded', detail: { ...counts, signerUnreachable: report.signerUnreachable } };
    },
  };
}
