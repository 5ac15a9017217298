import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Address } from 'viem';
import { generateApiKey } from '../security/api-keys.ts';

export interface ApiKeyRecord {
  id: string;
  agentId: string;
  secretHash: string;
  usable: boolean;
}

export interface AgentRecord {
  id: string;
  name: string;
  signerAddress: Address;
  disabled: boolean;
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

export async function touchApiKey(pool: pg.Pool, id: string): Promise<void> {
  await pool.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}

export async function findAgent(db: Pick<pg.Pool, 'query'>, id: string): Promise<AgentRecord | null> {
  const { rows } = await db.query<{ id: string; name: string; signer_address: Address; disabled_at: Date | null }>(
    'SELECT id, name, signer_address, disabled_at FROM agents WHERE id = $1',
    [id],
  );
  const row = rows[0];
  return row ? { id: row.id, name: row.name, signerAddress: row.signer_address, disabled: row.disabled_at !== null } : null;
}

/**
 * Create an agent bound to a signer key and issue its first API key. Returns the full key once; only its argon2id
 * hash is stored.
 */
export async function createAgentWithKey(
  pool: pg.Pool,
  input: { name: string; signerAddress: Address },
): Promise<{ agentId: string; apiKeyId: string; apiKey: string }> {
  const key = await generateApiKey();
  const agentId = randomUUID();
  const apiKeyId = randomUUID();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO agents (id, name, signer_address) VALUES ($1, $2, $3)', [agentId, input.name, input.signerAddress]);
    await client.query('INSERT INTO api_keys (id, key_id, agent_id, secret_hash) VALUES ($1, $2, $3, $4)', [
      apiKeyId,
      key.keyId,
      agentId,
      key.secretHash,
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  return { agentId, apiKeyId, apiKey: key.apiKey };
}

export async function createUser(
  pool: pg.Pool,
  input: { username: string; passwordHash: string; role: 'owner' | 'admin' | 'operator' | 'approver' | 'viewer' },
): Promise<string> {
  const id = randomUUID();
  await pool.query('INSERT INTO users (id, username, password_hash, role) VALUES ($1, $2, $3, $4)', [
    id,
    input.username,
    input.passwordHash,
    input.role,
  ]);
  return id;
}
