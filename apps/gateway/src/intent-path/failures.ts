import type pg from 'pg';
import { Clawd402Error, SignerError, logEvent, type ApiErrorCode } from '@clawd402/protocol';
import { isDatabaseUnavailable } from '../db/pool.ts';
import type { IntentRecord } from '../domain/intent.ts';
import type { Logger } from '../domain/logger.ts';
import { raiseAlert } from '../repositories/alerts-repository.ts';
import { transitionIntent } from '../repositories/intents-repository.ts';
import { closeSpend } from '../repositories/spend-repository.ts';

/** Map a failure after the decision (signing, mostly) to the code the agent sees. */
export function failureCode(error: unknown): ApiErrorCode {
  if (error instanceof Clawd402Error) return error.code;
  if (error instanceof SignerError) return 'signer_refused';
  if (isDatabaseUnavailable(error)) return 'database_unavailable';
  return 'internal_error';
}

/**
 * End an approved intent that could not be signed: `failed` with the step's code (audited), its reservation released.
 * Nothing was signed that can leave. When even that cannot be recorded (database down), throws the code.
 */
export async function failIntent(
  deps: { pool: pg.Pool; log: Logger },
  intent: IntentRecord,
  error: unknown,
): Promise<IntentRecord> {
  const code = failureCode(error);
  const text = error instanceof Clawd402Error ? error.message : new Clawd402Error(code).message;
  logEvent(deps.log, 'intent.failed', { err: error, intentId: intent.id, code });
  if (code === 'signer_unavailable')
    logEvent(deps.log, 'signer.unavailable', {
      intentId: intent.id,
      reason: (error as { details?: { reason?: unknown } }).details?.reason,
    });
  try {
    const failed = await transitionIntent(deps.pool, intent.id, ['approved'], 'failed', {
      fields: { error_code: code, error_message: text },
      audit: { actor: 'system:gateway', action: 'intent.failed', subject: `intent:${intent.id}`, data: { code } },
    });
    // Nothing left: its reservation goes back to the budgets (the tracker's sweep retries if this fails).
    if (failed && code === 'signer_unavailable') {
      // The signer is the one thing nothing is signed without: people hear of it at once (deduplicated per window).
      await raiseAlert(deps.pool, {
        kind: 'signer_unreachable',
        severity: 'critical',
        subject: 'signer',
        summary: `The signer is unreachable: intent ${intent.id} failed unsigned`,
        detail: { intentId: intent.id, agentId: intent.agentId, chainId: intent.chainId, code },
      }).catch((cause: unknown) => deps.log.error({ err: cause }, 'could not raise the signer_unreachable alert'));
    }
    if (failed) {
      await closeSpend(deps.pool, intent.id).catch((cause: unknown) => {
        logEvent(deps.log, 'money.release_failed', { err: cause, intentId: intent.id });
      });
    }
    return failed ?? intent;
  } catch (cause) {
    // Could not even record the failure (database down). Nothing was signed that can leave; say so.
    deps.log.error({ err: cause, intentId: intent.id }, 'could not record intent failure');
    throw new Clawd402Error(code, text, { cause });
  }
}
