import type pg from 'pg';
import type { Logger } from '../domain/logger.ts';
import { Clawd402Error, logEvent, type ApiErrorCode, type IntentBody } from '@clawd402/protocol';
import type { AgentContext } from '../domain/agent.ts';
import { recordHygieneHit, type HygieneHitOutcome } from '../repositories/key-quarantine-repository.ts';
import { scanIntentForKnownKeys, type HygieneCategory, type HygieneRules } from '../security/intent-hygiene.ts';
import type { KnownAddresses } from '../security/known-addresses.ts';

/** The code an intent refused for each category answers with (422, docs/errors.md). */
export const HYGIENE_ERROR_CODES = {
  injection: 'intent_injection_detected',
  secret: 'intent_secret_detected',
  canary: 'intent_canary_detected',
} as const satisfies Record<HygieneCategory, ApiErrorCode>;

/**
 * Stage 2 — screen, before idempotency and normalisation: cap the free-text fields and scan them
 * (security/intent-hygiene.ts). A hit is counted against the API key and audited (category and key id, never the
 * text; key-quarantine-repository.ts), logged the same way, and refused with the category's code. Nothing else is
 * written. If the hit cannot be counted (database down) the intent is still refused with the category's code.
 */
export async function screenIntent(
  deps: { pool: pg.Pool; log: Logger; hygiene: HygieneRules; knownAddresses: KnownAddresses },
  principal: AgentContext,
  body: IntentBody,
): Promise<void> {
  const { hygiene } = deps;
  // Counted in code points, as the schema's maxLength counts (ajv).
  if (body.memo !== undefined && [...body.memo].length > hygiene.memoMaxLength) {
    throw new Clawd402Error('invalid_request', `memo must be at most ${hygiene.memoMaxLength} characters.`, {
      details: { field: 'memo', maxLength: hygiene.memoMaxLength },
    });
  }
  const own = principal.signerAddress.toLowerCase();
  const finding = await scanIntentForKnownKeys(
    body,
    hygiene,
    (address) => address.toLowerCase() === own || deps.knownAddresses.has(address),
  );
  if (!finding) return;

  let outcome: HygieneHitOutcome | null = null;
  try {
    outcome = await recordHygieneHit(deps.pool, {
      apiKeyId: principal.apiKeyId,
      agentId: principal.agentId,
      ...finding,
    });
  } catch (error) {
    deps.log.error(
      { err: error, agentId: principal.agentId, apiKeyId: principal.apiKeyId, hygieneCategory: finding.category },
      'could not count an intent hygiene hit',
    );
  }
  const action = outcome?.disabled ? 'key revoked' : outcome?.quarantineStarted ? 'key quarantined' : 'refused';
  logEvent(deps.log, 'intent.hygiene_refused', {
    agentId: principal.agentId,
    apiKeyId: principal.apiKeyId,
    hygieneCategory: finding.category,
    rule: finding.rule,
    field: finding.field,
    hitsLastHour: outcome?.hitsLastHour,
    hitsLastDay: outcome?.hitsLastDay,
    action,
  });
  if (outcome?.disabled || outcome?.quarantineStarted)
    logEvent(deps.log, 'auth.api_key_quarantined', {
      agentId: principal.agentId,
      apiKeyId: principal.apiKeyId,
      quarantinedUntil: outcome.quarantinedUntil,
      revoked: outcome.disabled,
    });
  throw new Clawd402Error(HYGIENE_ERROR_CODES[finding.category], undefined, {
    details: {
      field: finding.field,
      ...(outcome?.quarantinedUntil ? { quarantinedUntil: outcome.quarantinedUntil.toISOString() } : {}),
      ...(outcome?.disabled ? { keyRevoked: true } : {}),
    },
  });
}
