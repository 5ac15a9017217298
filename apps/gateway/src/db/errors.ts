import { Clawd402Error } from '@clawd402/protocol';
import { isDatabaseUnavailable } from '../lib/database-errors.ts';

export { isDatabaseUnavailable } from '../lib/database-errors.ts';

/**
 * Classify a failed write that carried audit records: unreachable database → `database_unavailable`; a failure in
 * the audit functions or the chain trigger (which run at commit) → `audit_unavailable`; anything else is returned
 * unchanged (a bug, reported as internal_error). Either way the write did not happen.
 */
export function classifyWriteError(cause: unknown): unknown {
  if (cause instanceof Clawd402Error) return cause;
  if (isDatabaseUnavailable(cause)) return new Clawd402Error('database_unavailable', undefined, { cause });
  const e = cause as { message?: string; where?: string } | null;
  if (/audit_/.test(`${e?.message ?? ''}\n${e?.where ?? ''}`))
    return new Clawd402Error('audit_unavailable', undefined, { cause });
  return cause;
}

/**
 * Run a write and classify what it throws (classifyWriteError): the one try/catch every audited repository write
 * ends with. The write is awaited inside, so a rejected promise is classified too; its value is returned unchanged.
 */
export async function classifiedWrite<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (cause) {
    throw classifyWriteError(cause);
  }
}
