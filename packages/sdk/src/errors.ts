import type { ApiErrorCode, BudgetView, IntentView } from '@clawd402/protocol';

/**
 * Codes the SDK raises itself, before or instead of asking the gateway. The gateway's own codes (`policy_denied`,
 * `rate_limited`, …) are the catalogue in docs/errors.md and arrive unchanged.
 */
export const SDK_ERRORS = {
  invalid_option: 'A client or execute option is missing, malformed or not supported by the gateway.',
  wallet_private_key_refused:
    'A private key never enters the SDK or the gateway: keys live in the signer, which signs what the policy allows.',
  wallet_selection_unsupported:
    'The gateway binds one signer key to each agent (chosen by the operator with the API key); an intent cannot choose another.',
  instruction_unrecognized: 'The instruction does not match the grammar (send / transfer / swap / approve).',
  instruction_ambiguous: 'The instruction could mean more than one thing; nothing was guessed.',
  instruction_unknown_asset: 'The instruction names an asset symbol that is not in the registry the client knows.',
  instruction_invalid_amount: 'The instruction carries an amount that is not a positive decimal number.',
  instruction_invalid_address: 'The instruction names a recipient or spender that is not a 0x address.',
  sign_transaction_unsupported:
    'The gateway never hands out a signed transaction to broadcast elsewhere; use client.execute or the /rpc endpoint.',
  signer_address_mismatch: 'The gateway signed with another address than the account was created for.',
  network_error: 'The gateway could not be reached (after retries).',
  timeout: 'The request did not complete in time (after retries).',
  wait_timeout: 'The intent did not reach the awaited status in time.',
  invalid_response: 'The gateway answered with something that is not a Clawd402 response.',
  http_error: 'The gateway answered with an error the SDK does not know.',
  x402_no_acceptable_requirement:
    'The 402 answer offers no `exact` payment on a chain this client pays on; nothing was paid.',
  x402_amount_above_max:
    'The cheapest payment the 402 answer accepts is above the maxAmount given for this call; nothing was paid.',
} as const;
export type SdkErrorCode = keyof typeof SDK_ERRORS;

/** Every code a {@link Clawd402ClientError} can carry: the gateway's catalogue and the SDK's own. */
export type ClientErrorCode = ApiErrorCode | SdkErrorCode;

export interface ClientErrorOptions {
  message?: string;
  /** HTTP status when the gateway answered; undefined for errors raised in the client. */
  status?: number;
  details?: Record<string, unknown>;
  /** The intent the gateway recorded (a policy denial, a failed intent). */
  intent?: IntentView;
  /** Milliseconds the gateway asked to wait (Retry-After), if it did. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The one error the SDK throws. `code` is stable (branch on it); `message` is a sentence for humans. A refused intent
 * carries the policy's `reasons` and what is left of each budget (`budgets`, from `decision.money`).
 *
 * @example
 * try { await client.execute({ action: 'transfer', to, asset: 'native', amount: '5' }) }
 * catch (e) { if (e instanceof Clawd402ClientError && e.code === 'policy_denied') console.log(e.reasons, e.budgets) }
 */
export class Clawd402ClientError extends Error {
  override readonly name = 'Clawd402ClientError';
  readonly code: ClientErrorCode | (string & {});
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly intent: IntentView | undefined;
  readonly reasons: { code: string; message: string }[];
  readonly budgets: BudgetView[];
  readonly retryAfterMs: number | undefined;

  constructor(code: ClientErrorCode | (string & {}), options: ClientErrorOptions = {}) {
    super(options.message ?? (SDK_ERRORS as Record<string, string>)[code] ?? code, { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.details = options.details;
    this.intent = options.intent;
    this.reasons = options.intent?.decision?.reasons ?? [];
    this.budgets = options.intent?.decision?.money?.budgets ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** True when `error` is a {@link Clawd402ClientError}, optionally with `code`. */
export function isClientError(error: unknown, code?: ClientErrorCode): error is Clawd402ClientError {
  return error instanceof Clawd402ClientError && (code === undefined || error.code === code);
}
