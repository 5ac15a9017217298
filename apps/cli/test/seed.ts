// A gateway database with realistic shape for backup tests and the restore-time measurement: the real migrations,
// a user, an agent with an API key (the gateway's own functions), then `intents` confirmed intents, each with two
// intent_events rows and one audit record chained by the real audit_append trigger. Not a test file.
import pg from 'pg';
import { appendAudit, createAgentWithKey, createPool, createUser, migrate, withTransaction } from '@clawd402/gateway';

export async function seedGatewayDatabase(url: string, options: { intents: number }): Promise<{ agentId: string }> {
  const pool = createPool(url, 2);
  try {
    await migrate(pool);
    const userId = await createUser(pool, {
      username: `owner-${Date.now()}`,
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$dGVzdA$dGVzdHZhbHVl',
      role: 'owner',
    });
    const { agentId } = await createAgentWithKey(pool, {
      name: `agent-${Date.now()}`,
      signerAddress: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      ownerUserId: userId,
    });
    await appendAudit(pool, {
      actor: `user:${userId}`,
      action: 'agent.created',
      subject: `agent:${agentId}`,
      data: { note: 'seed' },
    });
    const batch = 20_000;
    for (let start = 0; start < options.intents; start += batch) {
      const n = Math.min(batch, options.intents - start);
      await withTransaction(pool, async (client) => {
        await client.query(
          `INSERT INTO intents (id, agent_id, request_hash, status, type, chain_id, from_address, to_address, recipient, asset,
                                amount, decimals, decision, nonce, tx_hash, memo, created_at, updated_at)
           SELECT gen_random_uuid(), $1, md5(g::text) || md5((g + 1)::text), 'confirmed', 'transfer', 31337,
                  '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
                  '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', 'native', (g * 1000000000000)::numeric, 18,
                  jsonb_build_object('action', 'allow', 'policy', 'dev', 'reasons', jsonb_build_array('seed ' || g)),
                  g, '0x' || md5(g::text) || md5((g * 7)::text), 'memo ' || g || E'\\twith a tab and a\\nnewline',
                  now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
             FROM generate_series($2::bigint, $3::bigint) AS g`,
          [agentId, start, start + n - 1],
        );
        await client.query(
          `INSERT INTO intent_events (intent_id, from_status, to_status, at, detail)
           SELECT id, s.from_status, s.to_status, created_at, jsonb_build_object('by', 'seed')
             FROM intents, (VALUES (NULL, 'approved'), ('approved', 'confirmed')) AS s(from_status, to_status)
            WHERE agent_id = $1 AND nonce BETWEEN $2 AND $3`,
          [agentId, start, start + n - 1],
        );
        // Audit records in the exact shape appendAudit writes (canonical JSON: keys sorted), chained at COMMIT.
        await client.query(
          `WITH t AS (SELECT id, to_char(date_trunc('milliseconds', now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
                        FROM intents WHERE agent_id = $1 AND nonce BETWEEN $2 AND $3 ORDER BY nonce)
           SELECT audit_append(t.at::timestamptz, 'agent:' || $1, 'intent.confirmed', 'intent:' || t.id,
                  '{"action":"intent.confirmed","actor":"agent:' || $1 || '","at":"' || t.at || '","data":{},"subject":"intent:' || t.id || '"}')
             FROM t`,
          [agentId, start, start + n - 1],
        );
      });
    }
    return { agentId };
  } finally {
    await pool.end();
  }
}

/** Every table of `public`, each as its rows ordered by all columns, as text: to compare two databases outright. */
export async function databaseContents(url: string): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET TIME ZONE 'UTC'");
    const { rows: tables } = await client.query<{ name: string }>(
      "SELECT relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind = 'r' ORDER BY 1",
    );
    const out = new Map<string, string>();
    for (const { name } of tables) {
      const { rows } = await client.query<{ t: string }>(`SELECT t::text AS t FROM "${name}" t ORDER BY 1`);
      out.set(name, rows.map((r) => r.t).join('\n'));
    }
    return out;
  } finally {
    await client.end();
  }
}
