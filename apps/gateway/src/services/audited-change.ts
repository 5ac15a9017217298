import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';
import { appendAudit, type AuditEntry } from '../repositories/audit-repository.ts';

/**
 * One change and its audit record, committed together or not at all: `change` runs in a transaction and, unless it
 * returns `null` or `false` (nothing changed, nothing to record), `audit(result, client)` is appended in the same
 * transaction. Returns what `change` returned, so the caller decides what "nothing changed" means (`not_found`, ...).
 */
export function auditedChange<T>(
  pool: pg.Pool,
  change: (client: pg.PoolClient) => Promise<T>,
  audit: (result: Exclude<T, null | false>, client: pg.PoolClient) => AuditEntry | Promise<AuditEntry>,
): Promise<T> {
  return withTransaction(pool, async (client) => {
    const result = await change(client);
    if (result !== null && result !== false) {
      await appendAudit(client, await audit(result as Exclude<T, null | false>, client));
    }
    return result;
  });
}
