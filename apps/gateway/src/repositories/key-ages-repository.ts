import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** A key the gateway knows the age of (docs/jobs.md, "Key-age reminders"). Never key material: ids and dates only. */
export interface StoredKeyAge {
  kind: 'agent_api_key' | 'access_token_key' | 'ticket_key' | 'notification_secret';
  /** The key's public id: an API key's key id, a JWK thumbprint, a fingerprint, a channel name. */
  id: string;
  /** Who or what holds it (an agent's name), or null. */
  holder: string | null;
  /** When it came into use. */
  since: Date;
}

/**
 * Remember which installation-wide key is in use (`settings`), moving its `updated_at` only when the key changes: the
 * age of the ticket key is counted from there, as the access-token key's is from `jwt_signing_kid`.
 */
export async function recordKeyInUse(db: Queryable, setting: 'ticket_key_id', id: string): Promise<void> {
  await db.query(
    `INSERT INTO settings (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now() WHERE settings.value <> EXCLUDED.value`,
    [setting, id],
  );
}

/**
 * Every key in force that Postgres dates: agents' unrevoked, unexpired API keys (of enabled agents), the access-token
 * and ticket keys (since the gateway first booted with them), and notification channels' sealed secrets (since the
 * channel was last changed). Signer keys are dated by the signer (`list_keys`).
 */
export async function listStoredKeyAges(db: Queryable): Promise<{ now: Date; keys: StoredKeyAge[] }> {
  const { rows } = await db.query<{ kind: StoredKeyAge['kind']; id: string; holder: string | null; since: Date }>(
    `SELECT 'agent_api_key' AS kind, k.key_id AS id, a.name AS holder, k.created_at AS since
       FROM api_keys k JOIN agents a ON a.id = k.agent_id
      WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.disabled_at IS NULL
     UNION ALL
     SELECT CASE key WHEN 'jwt_signing_kid' THEN 'access_token_key' ELSE 'ticket_key' END, value, NULL, updated_at
       FROM settings WHERE key IN ('jwt_signing_kid', 'ticket_key_id')
     UNION ALL
     SELECT 'notification_secret', name, NULL, updated_at FROM notification_channels WHERE secret_sealed IS NOT NULL
     ORDER BY since, id`,
  );
  const { rows: clock } = await db.query<{ now: Date }>('SELECT now() AS now');
  return { now: clock[0]!.now, keys: rows };
}
