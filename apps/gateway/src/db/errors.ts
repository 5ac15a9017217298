import { Clawd402Error } from '@clawd402/protocol';

/** True for errors that mean the database cannot be reached (as opposed to a query being wrong). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300'].includes(e.code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message ?? '');
}

/**
 * Classify a failed write that carried audit records: unreachable database → `database_unavailable`; a failure in
 * the audit functions or the chain trigger (which run at commit) → `audit_unavailable`; anything else is returned
 * unchanged (a bug, reported as internal_error). Either way the write did not happen.
 */
export function classifyWriteError(cause: unknown): unknown {
  if (cause instanceof Clawd402Error) return cause;
  if (isDatabaseUnavailable(cause)) return new Clawd402Error('database_unavailable', undefined, { cause });
  const e = cause as { message?: string; where?: string } | null;
  if (/audit_/.test(`${e?.message ?? ''}\n${e?.where ?? ''}`)) return new Clawd402Error('audit_unavailable', undefined, { cause });
  return cause;
}
