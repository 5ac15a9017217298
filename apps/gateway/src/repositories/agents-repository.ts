import type { KeyScopes } from '../domain/agent.ts';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { keyAgeLevel, type KeyAgeLevel, type KeyAgeSettings } from '../domain/key-age.ts';
import type { Address } from 'viem';
import { prepared } from '../db/pool.ts';
import { generateApiKey } from '../lib/api-keys.ts';

export interface ApiKeyRecord {
  id: string;
  agentId: string;
  secretHash: string;
  usable: boolean;
}

/** Find an API key by its non-secret key id; `usable` is false when revoked, expired or the agent is disabled. */
export async function findApiKey(pool: pg.Pool, keyId: string): Promise<ApiKeyRecord | null> {
  const { rows } = await pool.query<{ id: string; agent_id: string; secret_hash: string; usable: boolean }>(
    `SELECT k.id, k.agent_id, k.secret_hash,
            (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.disabled_at IS NULL) AS usable
       FROM api_keys k JOIN agents a ON a.id = k.agent_id
      WHERE k.key_id = $1`,
    [keyId],
  );
  const row = rows[0];
  return row ? { id: row.id, agentId: row.agent_id, secretHash: row.secret_hash, usable: row.usable } : null;
}

export interface AgentKeyAccess {
  context: { signerAddress: Address; scopes: KeyScopes } | null;
  quarantinedUntil: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What every agent request checks: the signer address and scopes the agent acts with, if its API key is still usable
 * (not revoked, not expired) and the agent is enabled (`context` null otherwise), and until when the key is
 * quarantined, if it is (docs/intent-hygiene.md). Read on every agent request, never cached, so revocation and
 * quarantine take effect at once on every process. Several requests' checks go in one round trip: `keys[i]` is
 * answered by the result's i-th entry. An id that is not a UUID (no key has one) is answered as unusable.
 */
export async function findAgentKeyAccess(
  db: Pick<pg.Pool, 'query'>,
  keys: readonly { apiKeyId: string; agentId: string }[],
): Promise<AgentKeyAccess[]> {
  const asked = keys.filter((k) => UUID.test(k.apiKeyId) && UUID.test(k.agentId));
  const { rows } =
    asked.length === 0
      ? { rows: [] }
      : await db.query<{
          key_id: string;
          agent_id: string;
          signer_address: Address;
          scope_chains: string[] | null;
          scope_types: string[] | null;
          quarantined_until: Date | null;
        }>(
          prepared(
            `SELECT k.id AS key_id, k.agent_id, a.signer_address, k.scope_chains, k.scope_types, h.quarantined_until
               FROM api_keys k JOIN agents a ON a.id = k.agent_id
               LEFT JOIN api_key_hygiene h ON h.api_key_id = k.id AND h.quarantined_until > now()
              WHERE k.id = ANY($1::uuid[]) AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
                AND a.disabled_at IS NULL`,
            [[...new Set(asked.map((k) => k.apiKeyId))]],
          ),
        );
  const byKey = new Map(rows.map((r) => [r.key_id, r]));
  return keys.map(({ apiKeyId, agentId }) => {
    const row = byKey.get(apiKeyId.toLowerCase());
    // The key must belong to the agent the token names, as in a per-key lookup `WHERE k.agent_id = $agent`.
    if (row?.agent_id !== agentId.toLowerCase()) return { context: null, quarantinedUntil: null };
    return {
      context: {
        signerAddress: row.signer_address,
        scopes: { chains: row.scope_chains?.map(Number) ?? null, types: row.scope_types },
      },
      quarantinedUntil: row.quarantined_until,
    };
  });
}

export async function touchApiKey(pool: pg.Pool, id: string): Promise<void> {
  await pool.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}

export interface NewKeyOptions {
  label?: string | null;
  scopes?: KeyScopes;
  expiresAt?: Date | null;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Issue an API key for an agent; returns the full key once (only its argon2id hash is stored). */
export async function issueApiKey(
  db: Queryable,
  agentId: string,
  options: NewKeyOptions = {},
): Promise<{ apiKeyId: string; keyId: string; apiKey: string }> {
  const key = await generateApiKey();
  const apiKeyId = randomUUID();
  await db.query(
    `INSERT INTO api_keys (id, key_id, agent_id, secret_hash, label, scope_chains, scope_types, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      apiKeyId,
      key.keyId,
      agentId,
      key.secretHash,
      options.label ?? null,
      options.scopes?.chains ?? null,
      options.scopes?.types ?? null,
      options.expiresAt ?? null,
    ],
  );
  return { apiKeyId, keyId: key.keyId, apiKey: key.apiKey };
}

/**
 * Create an agent bound to a signer key and issue its first API key. Returns the full key once; only its argon2id
 * hash is stored.
 */
export async function createAgentWithKey(
  pool: pg.Pool,
  input: { name: string; signerAddress: Address; ownerUserId?: string | null } & NewKeyOptions,
): Promise<{ agentId: string; apiKeyId: string; apiKey: string }> {
  const agentId = randomUUID();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO agents (id, name, signer_address, owner_user_id) VALUES ($1, $2, $3, $4)', [
      agentId,
      input.name,
      input.signerAddress,
      input.ownerUserId ?? null,
    ]);
    const key = await issueApiKey(client, agentId, input);
    await client.query('COMMIT');
    return { agentId, apiKeyId: key.apiKeyId, apiKey: key.apiKey };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export async function agentNameExists(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM agents WHERE name = $1', [name]);
  return (rowCount ?? 0) > 0;
}

export async function enabledAgentExists(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM agents WHERE id = $1 AND disabled_at IS NULL', [id]);
  return (rowCount ?? 0) > 0;
}

/** Bind an agent to another signer key; returns the address it had, or null when there is no such agent. */
export async function assignAgentSigner(
  db: Queryable,
  id: string,
  signerAddress: string,
): Promise<{ from: string } | null> {
  const { rows } = await db.query<{ from: string }>(
    'UPDATE agents a SET signer_address = $2 FROM agents old WHERE a.id = $1 AND old.id = a.id RETURNING old.signer_address AS from',
    [id, signerAddress],
  );
  return rows[0] ?? null;
}

export interface ApiKeyView {
  id: string;
  keyId: string;
  agentId: string;
  label: string | null;
  scopes: KeyScopes;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  replacedBy: string | null;
  /** Until when an input-hygiene quarantine holds the key (docs/intent-hygiene.md); null when it is not in one. */
  quarantinedUntil: Date | null;
}

interface ApiKeyRow {
  id: string;
  key_id: string;
  agent_id: string;
  label: string | null;
  scope_chains: string[] | null;
  scope_types: string[] | null;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  replaced_by: string | null;
  quarantined_until: Date | null;
}

// Selected FROM api_keys k; the quarantine is read from the key's hygiene record, when one holds it now.
const KEY_COLUMNS = `k.id, k.key_id, k.agent_id, k.label, k.scope_chains, k.scope_types, k.created_at, k.last_used_at,
  k.expires_at, k.revoked_at, k.replaced_by,
  (SELECT h.quarantined_until FROM api_key_hygiene h WHERE h.api_key_id = k.id AND h.quarantined_until > now())
    AS quarantined_until`;

const toKeyView = (r: ApiKeyRow): ApiKeyView => ({
  id: r.id,
  keyId: r.key_id,
  agentId: r.agent_id,
  label: r.label,
  scopes: { chains: r.scope_chains?.map(Number) ?? null, types: r.scope_types },
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  replacedBy: r.replaced_by,
  quarantinedUntil: r.quarantined_until,
});

export async function findApiKeyById(db: Queryable, id: string): Promise<ApiKeyView | null> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = $1`, [id]);
  return rows[0] ? toKeyView(rows[0]) : null;
}

export interface AgentView {
  id: string;
  name: string;
  signerAddress: Address;
  ownerUserId: string | null;
  disabled: boolean;
  createdAt: Date;
  keys: ApiKeyView[];
}

export async function listAgents(db: Queryable): Promise<AgentView[]> {
  const { rows: agents } = await db.query<{
    id: string;
    name: string;
    signer_address: Address;
    owner_user_id: string | null;
    disabled_at: Date | null;
    created_at: Date;
  }>('SELECT id, name, signer_address, owner_user_id, disabled_at, created_at FROM agents ORDER BY created_at, id');
  const { rows: keys } = await db.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k ORDER BY k.created_at, k.id`);
  return agents.map((a) => ({
    id: a.id,
    name: a.name,
    signerAddress: a.signer_address,
    ownerUserId: a.owner_user_id,
    disabled: a.disabled_at !== null,
    createdAt: a.created_at,
    keys: keys.filter((k) => k.agent_id === a.id).map(toKeyView),
  }));
}

/** Every agent's signer address (disabled agents included), each once. */
export async function listAgentSignerAddresses(db: Queryable): Promise<Address[]> {
  const { rows } = await db.query<{ signer_address: Address }>('SELECT DISTINCT signer_address FROM agents');
  return rows.map((r) => r.signer_address);
}

/**
 * Rotate a key: issue a new one with the same agent, label and scopes, and let the old one live only until the end
 * of the overlap window (or its own earlier expiry). Returns the new key once.
 */
export async function rotateApiKey(
  client: Queryable,
  old: ApiKeyView,
  overlapSeconds: number,
): Promise<{ apiKeyId: string; keyId: string; apiKey: string }> {
  const next = await issueApiKey(client, old.agentId, {
    label: old.label,
    scopes: old.scopes,
    expiresAt: old.expiresAt,
  });
  await client.query(
    `UPDATE api_keys SET replaced_by = $2,
            expires_at = least(coalesce(expires_at, 'infinity'::timestamptz), now() + make_interval(secs => $3))
      WHERE id = $1`,
    [old.id, next.apiKeyId, overlapSeconds],
  );
  return next;
}

/** Replace what a key may be used for (null: any); false when the key is revoked or unknown. */
export async function setApiKeyScopes(db: Queryable, id: string, scopes: KeyScopes): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE api_keys SET scope_chains = $2, scope_types = $3 WHERE id = $1 AND revoked_at IS NULL',
    [id, scopes.chains, scopes.types],
  );
  return rowCount === 1;
}

export async function revokeApiKey(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [
    id,
  ]);
  return rowCount === 1;
}

export async function disableAgent(db: Queryable, id: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE agents SET disabled_at = now(), disabled_reason = $2 WHERE id = $1 AND disabled_at IS NULL',
    [id, reason],
  );
  return rowCount === 1;
}

export interface KeyAgeRow {
  id: string;
  keyId: string;
  agentId: string;
  agentName: string;
  ageDays: number;
  status: KeyAgeLevel;
}

/** Every usable key (not revoked, not expired) with its age and rotation status (KEY_AGE_*_DAYS), oldest first. */
export async function keyAgeReport(db: Queryable, settings: KeyAgeSettings): Promise<KeyAgeRow[]> {
  const { rows } = await db.query<{ id: string; key_id: string; agent_id: string; name: string; age_days: string }>(
    `SELECT k.id, k.key_id, k.agent_id, a.name, floor(extract(epoch FROM now() - k.created_at) / 86400) AS age_days
       FROM api_keys k JOIN agents a ON a.id = k.agent_id
      WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
      ORDER BY k.created_at, k.id`,
  );
  return rows.map((r) => {
    const ageDays = Number(r.age_days);
    const status = keyAgeLevel(ageDays, settings);
    return { id: r.id, keyId: r.key_id, agentId: r.agent_id, agentName: r.name, ageDays, status };
  });
}

export type { KeyScopes } from '../domain/agent.ts';
