/**
 * The one error hierarchy of Clawd402. Codes are API: agents branch on them, so a code is never renamed or reused.
 * Every code here is documented in docs/errors.md; `errors-doc.test.ts` keeps the two in step.
 */

/** HTTP-facing error codes, with the status they answer with and the sentence agents see. */
export const API_ERRORS = {
  // 400 — the request is malformed
  invalid_request: { status: 400, message: 'The request is malformed or fails its schema.' },
  unknown_field: { status: 400, message: 'The request carries a field this endpoint does not accept.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  malformed_http_request: {
    status: 400,
    message:
      'The HTTP framing is malformed or ambiguous (e.g. Content-Length with Transfer-Encoding); the connection was closed.',
  },
  json_duplicate_key: {
    status: 400,
    message:
      'A JSON object in the request body has the same member name twice; the body has no single meaning and was refused.',
  },
  json_too_deep: {
    status: 400,
    message: 'The request body nests objects and arrays deeper than the gateway reads (64 levels).',
  },
  invalid_address: { status: 400, message: 'An address is not a 20-byte hex string.' },
  invalid_address_checksum: { status: 400, message: 'A mixed-case address fails its EIP-55 checksum.' },
  zero_address_recipient: { status: 400, message: 'The zero address cannot be a recipient.' },
  invalid_amount: { status: 400, message: 'An amount is not a non-negative decimal string.' },
  amount_too_precise: { status: 400, message: "An amount has more fractional digits than the asset's decimals." },
  amount_overflow: { status: 400, message: 'An amount does not fit in 256 bits.' },
  amount_zero: { status: 400, message: 'A transfer amount must be greater than zero.' },
  invalid_calldata: { status: 400, message: 'Calldata is not an even-length 0x-prefixed hex string.' },
  chain_not_configured: { status: 400, message: 'The chain id is not configured on this gateway.' },
  invalid_idempotency_key: {
    status: 400,
    message: 'The Idempotency-Key header must be 1–255 printable ASCII characters.',
  },
  invalid_cursor: { status: 400, message: 'The pagination cursor is not one this gateway issued.' },
  weak_password: { status: 400, message: 'The password must be 12 to 256 characters.' },
  invalid_totp_code: { status: 400, message: 'The TOTP code is wrong, expired or already used.' },
  notification_url_invalid: {
    status: 400,
    message: 'The notification URL must be an absolute https URL (http outside production) without user info.',
  },
  // 401 / 403 — who you are and what you may do
  unauthenticated: { status: 401, message: 'A valid bearer token is required.' },
  invalid_api_key: { status: 401, message: 'The API key is unknown, revoked or expired.' },
  invalid_credentials: { status: 401, message: 'The username or password is wrong, or the account is disabled.' },
  invalid_refresh_token: {
    status: 401,
    message: 'The refresh token is unknown, expired, already used, or its session has ended.',
  },
  ip_blocked: { status: 403, message: 'This address is blocked after repeated failed logins.' },
  totp_required: { status: 401, message: 'This account uses a second factor: send the current code as "totp".' },
  totp_enrollment_required: {
    status: 403,
    message: 'Owners must enrol a TOTP second factor before anything else (POST /auth/totp/enroll).',
  },
  forbidden: { status: 403, message: 'The principal may not perform this action.' },
  csrf_token_invalid: {
    status: 403,
    message: 'A cookie-authenticated change needs the CSRF token from login in the x-csrf-token header.',
  },
  policy_denied: { status: 403, message: 'The policy rejected the intent; nothing was signed.' },
  key_scope_denied: { status: 403, message: "The API key's scopes do not cover this chain or intent type." },
  api_key_quarantined: {
    status: 403,
    message: 'The API key is quarantined after repeated hostile intents; details.until says when it ends.',
  },
  // 404 / 409 / 413 / 415 / 422 / 429
  not_found: { status: 404, message: 'No such resource.' },
  username_taken: { status: 409, message: 'A user with that username exists.' },
  agent_name_taken: { status: 409, message: 'An agent with that name exists.' },
  signer_key_unknown: { status: 422, message: 'The signer holds no key with that address.' },
  intent_injection_detected: {
    status: 422,
    message:
      'A free-text field holds a prompt-injection phrase; the intent was refused and counted against the API key.',
  },
  intent_secret_detected: {
    status: 422,
    message:
      'A free-text field holds what looks like a secret (private key, seed phrase, API key); the intent was refused and counted against the API key.',
  },
  intent_canary_detected: {
    status: 422,
    message:
      "A free-text field holds one of the operator's canary tokens; the intent was refused and counted against the API key.",
  },
  notification_destination_unresolvable: { status: 422, message: 'The notification host name does not resolve.' },
  notification_destination_forbidden: {
    status: 422,
    message: 'The notification host resolves to a non-public address (loopback, private, link-local, metadata, …).',
  },
  route_not_found: { status: 404, message: 'No such route.' },
  console_not_built: {
    status: 503,
    message: 'The operator console is not built; run pnpm install (or pnpm --filter @clawd402/console build).',
  },
  mcp_method_not_allowed: { status: 405, message: 'The MCP endpoint answers POST only.' },
  policy_invalid: { status: 422, message: 'The policy set does not load; details.issues lists every problem.' },
  policy_lint_errors: { status: 422, message: 'The policy version has lint errors and cannot be activated.' },
  idempotency_key_reused: { status: 422, message: 'The Idempotency-Key was already used with a different request.' },
  transaction_reverted: { status: 422, message: 'The transaction was mined but reverted.' },
  signing_abandoned: {
    status: 503,
    message: 'The intent was approved but its signing never completed; nothing was signed.',
  },
  transaction_reverts: { status: 422, message: 'The chain reports the transaction would fail; nothing was signed.' },
  asset_unknown: { status: 422, message: 'The token does not answer decimals() on this chain.' },
  // Submission (docs/submission.md)
  deadline_passed: {
    status: 422,
    message: "The intent's deadline has passed; nothing more is signed or resubmitted for it.",
  },
  fee_cap_exceeded: {
    status: 422,
    message: "The network fee needed is above this chain's configured cap; nothing was signed.",
  },
  fee_model_unsupported: {
    status: 422,
    message: 'The chain does not support EIP-1559 fees; this gateway signs EIP-1559 transactions only.',
  },
  intent_not_cancellable: {
    status: 409,
    message: 'The intent has already ended (confirmed, failed, expired, …); there is nothing left to cancel.',
  },
  intent_not_in_flight: {
    status: 409,
    message: 'The intent has no transaction waiting to be mined; there is nothing to speed up.',
  },
  transaction_dropped: {
    status: 422,
    message:
      "The intent's transaction was dropped and its nonce was used by another transaction; the intent did not execute.",
  },
  // Decoding, simulation and swaps (docs/simulation.md, docs/swaps.md): refused before the decision, nothing signed.
  calldata_malformed: {
    status: 422,
    message: 'Calldata with a known selector is not its canonical ABI encoding; refused.',
  },
  calldata_too_complex: {
    status: 422,
    message: 'The call nests deeper or wider than the decoder follows; refused as unknown.',
  },
  simulation_reverted: {
    status: 422,
    message: 'Simulating the transaction shows it would revert; nothing was signed.',
  },
  simulation_unexpected_outflow: {
    status: 422,
    message:
      'Simulating the transaction shows assets leaving the signer that the intent does not declare; nothing was signed.',
  },
  simulation_unexpected_approval: {
    status: 422,
    message:
      'Simulating the transaction shows the signer granting an approval the intent does not declare; nothing was signed.',
  },
  insufficient_funds: {
    status: 422,
    message: "The signer's balance does not cover the amount plus the worst-case network fee; nothing was signed.",
  },
  allowance_missing: {
    status: 422,
    message: 'The signer has not approved the spender for this amount of the token; send an approve intent first.',
  },
  gas_limit_exceeded: {
    status: 422,
    message: "The transaction needs more gas than the block gas limit or the gateway's cap; nothing was signed.",
  },
  swap_unsupported: { status: 422, message: 'No DEX router is configured for this chain.' },
  swap_no_route: { status: 422, message: 'The router has no pool for this pair of assets.' },
  swap_slippage_exceeded: {
    status: 422,
    message:
      'The swap would return less than its minimum output (maxSlippagePercent below the quote and the reference price); nothing was signed.',
  },
  // Signature intents (docs/signatures.md)
  typed_data_malformed: {
    status: 422,
    message:
      'The typed data is not well-formed EIP-712 (details.field names the problem); nothing was recorded or signed.',
  },
  eip7702_signing_unsupported: {
    status: 422,
    message:
      'A rule allows this EIP-7702 delegate, but the signer cannot sign EIP-7702 authorisations; nothing was signed.',
  },
  // x402 payments (docs/x402.md): each hostile or unusable 402 is refused before anything is recorded or signed
  x402_requirements_malformed: {
    status: 422,
    message:
      'The x402 payment requirements are not a well-formed `exact` EVM requirement (details.field names the problem); nothing was signed.',
  },
  x402_requirements_too_large: {
    status: 413,
    message:
      'The x402 payment requirements (or their resource URL) are larger than the gateway reads; nothing was signed.',
  },
  x402_scheme_unsupported: {
    status: 422,
    message: 'The x402 requirement asks for a scheme other than `exact` (EIP-3009); nothing was signed.',
  },
  x402_network_mismatch: {
    status: 422,
    message: "The requirement's network is not the intent's chain (eip155:<chainId>); nothing was signed.",
  },
  x402_asset_not_configured: {
    status: 403,
    message:
      'The asset the resource asks for is not configured for x402 payments on this chain (X402_ASSETS); nothing was signed.',
  },
  x402_amount_above_cap: {
    status: 403,
    message:
      "The price is above the gateway's cap for one x402 payment (X402_MAX_PAYMENT_USD), or cannot be valued; nothing was signed.",
  },
  x402_validity_too_long: {
    status: 403,
    message:
      'The requirement asks for an authorisation valid longer than the gateway signs (X402_MAX_VALIDITY_SECONDS); nothing was signed.',
  },
  x402_payee_changed: {
    status: 403,
    message:
      'The resource names a payee other than the one pinned for its host (first seen); nothing was signed. An operator may list the new payee.',
  },
  x402_payee_not_listed: {
    status: 403,
    message: 'The resource names a payee not listed for its host (X402_PAYEES); nothing was signed.',
  },
  request_timeout: {
    status: 408,
    message: 'The request headers or body arrived too slowly; the connection was closed.',
  },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  headers_too_large: {
    status: 431,
    message: 'The request headers are larger than the gateway accepts (32 KiB); the connection was closed.',
  },
  unsupported_media_type: { status: 415, message: 'The request body must be application/json.' },
  approval_not_pending: {
    status: 409,
    message: 'The approval is no longer pending (approved, rejected or expired); a decision counts only once.',
  },
  approval_already_voted: { status: 409, message: 'This user already voted on this approval; one user counts once.' },
  approval_digest_mismatch: {
    status: 409,
    message:
      'The approval is bound to a different digest than the intent now has; it does not count and nothing was signed.',
  },
  approval_not_eligible: {
    status: 403,
    message: "This user may not vote on this approval (not among the rule's approvers, or the agent's owner).",
  },
  approval_rejected: { status: 403, message: 'A human rejected the intent; nothing was signed.' },
  approval_expired: {
    status: 403,
    message: 'Nobody approved the intent in time (escalation included); it was rejected and nothing was signed.',
  },
  rate_limited: { status: 429, message: 'Too many requests; retry after the time in Retry-After.' },
  rate_limit_blocked: {
    status: 429,
    message: 'This client is blocked for repeatedly exceeding rate limits; retry after the time in Retry-After.',
  },
  too_many_waiters: {
    status: 429,
    message: 'Too many open event streams and long-polls for this agent; close one before opening another.',
  },
  // 5xx — fail closed: nothing was signed or submitted unless the intent says so
  internal_error: { status: 500, message: 'Internal error.' },
  database_unavailable: { status: 503, message: 'The state store is unavailable; nothing was signed.' },
  audit_unavailable: { status: 503, message: 'The audit log could not be written; nothing was signed.' },
  signer_unavailable: { status: 503, message: 'The signer is unavailable; nothing was submitted.' },
  signer_refused: { status: 502, message: 'The signer refused to sign; nothing was submitted.' },
  chain_unavailable: { status: 503, message: 'The chain RPC is unavailable.' },
  simulation_unavailable: {
    status: 503,
    message: 'The transaction could not be simulated and simulation is required; nothing was signed.',
  },
  totp_unavailable: { status: 503, message: 'TOTP is not configured on this gateway (SECRETS_KEY_FILE).' },
  secrets_unavailable: {
    status: 503,
    message: 'Secrets cannot be stored: SECRETS_KEY_FILE is not configured on this gateway.',
  },
  // Kill switch and pauses (docs/killswitch.md)
  killswitch_engaged: {
    status: 403,
    message: 'The kill switch is engaged: no money moves until an owner releases it; nothing was signed.',
  },
  killswitch_confirmation_mismatch: {
    status: 400,
    message: 'The confirmation string does not match the one this action requires; nothing changed.',
  },
  killswitch_not_engaged: { status: 409, message: 'The kill switch is not engaged; there is nothing to release.' },
  signer_latch_release_refused: {
    status: 403,
    message:
      "The signer refused to lift its latch: the release authorisation is missing or not signed by the owners' release key.",
  },
  agent_paused: { status: 403, message: 'The agent is paused by an operator; nothing was signed.' },
  api_key_paused: { status: 403, message: 'The API key is paused by an operator; nothing was signed.' },
  chain_paused: { status: 403, message: 'The chain is paused by an operator; nothing was signed.' },
  approval_agent_inactive: {
    status: 409,
    message: "The intent's agent or API key is paused or disabled; it cannot be approved.",
  },
  // Alerts (docs/incidents.md)
  alert_state_conflict: { status: 409, message: 'The alert is already acknowledged or resolved.' },
  // Incidents (docs/incidents.md)
  incident_state_conflict: { status: 409, message: 'The incident is already acknowledged or resolved.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** Codes the signer answers with over its socket. They never reach agents verbatim; the gateway maps them. */
export const SIGNER_ERRORS = {
  malformed_frame: 'The frame is not a length-prefixed JSON object of the protocol version.',
  frame_too_large: 'The frame exceeds the maximum frame size.',
  unknown_method: 'The method is not one the signer serves.',
  invalid_params: 'The parameters do not match the method schema.',
  ticket_malformed: 'The ticket is not a compact JWS with the expected claims.',
  ticket_bad_signature: 'The ticket is not signed by a gateway key the signer trusts.',
  ticket_expired: 'The ticket has expired.',
  ticket_lifetime_too_long: 'The ticket is valid for longer than the signer allows.',
  ticket_reused: 'The ticket was already used.',
  ticket_digest_mismatch: 'The transaction does not hash to the digest the ticket binds.',
  ticket_chain_mismatch: 'The transaction chain id differs from the ticket.',
  unknown_key: 'The signer holds no key with that id.',
  chain_not_allowed: 'The signer does not sign for that chain.',
  ticket_operation_mismatch: 'The ticket was issued for a different signing operation.',
  operation_not_allowed: "The signer's policy does not allow this operation for this key.",
  value_cap_exceeded: "The value exceeds the signer's per-transaction cap for this key.",
  daily_cap_exceeded: "The signature would take the key over the signer's rolling 24-hour cap.",
  key_cancel_only: 'The key was rotated out; it signs only zero-value self-transfers (cancellations).',
  nonce_already_signed:
    'The signer already signed a different transaction at this nonce; only a ticket that says replace or cancel may sign another.',
  nonce_below_window:
    'The nonce is further below the highest one signed for this address than the signer remembers; only a replace or cancel ticket may sign there.',
  ticket_not_cancellation:
    'The ticket says cancel but the transaction is not a zero-value transfer to the key itself without data.',
  device_unavailable: 'The hardware wallet is not connected or cannot be opened.',
  device_locked: 'The hardware wallet is locked.',
  device_rejected: 'The signature was declined on the hardware wallet.',
  device_timeout: 'The hardware wallet did not confirm in time.',
  device_error: 'The hardware wallet answered with an error (wrong app open, or a request it does not support).',
  device_key_mismatch: 'The hardware wallet signed with a different key than the one configured.',
  checkpoints_unavailable: 'The signer keeps no audit checkpoints (it was started without a checkpoint directory).',
  checkpoint_regressed: 'The checkpoint counts fewer audit rows than one the signer already signed.',
  checkpoint_conflict: 'The signer already signed a different head for this many audit rows.',
  signer_internal: 'The signer failed internally.',
  killswitch_latched:
    'The signer is latched by the kill switch: it signs only cancellations until the owners release it.',
  latch_release_unauthorized:
    'The latch release is not signed by a release key the signer trusts, or names another latch.',
} as const;

export type SignerErrorCode = keyof typeof SIGNER_ERRORS;

/** Reason codes carried in an intent's decision. Agents act on them; documented in docs/errors.md. */
export const REASON_CODES = {
  'policy.rule_matched': 'A rule matched; its action decided the intent.',
  'policy.default_deny': 'No rule matched; the implicit final deny applied.',
  'policy.recipient_blacklisted': 'The recipient is on a blacklist the matching rule names.',
  'policy.condition_unknown_fact': 'A condition needed a fact the gateway does not have; it failed closed.',
  'policy.spender_blacklisted': 'The spender of the approval is on a blacklist the matching rule names.',
  'price.unavailable': "A USD condition needed the intent's USD value and no price was available; it failed closed.",
  'price.stale': "A USD condition needed the intent's USD value and the asset's price was stale; it failed closed.",
  'spend.limit_exceeded':
    'The intent would take a spend limit (agent, API key or global; rolling 24 h or 1 h) over its ceiling.',
  'breaker.soft': 'A cost circuit breaker is at its soft level (orange): every intent needs a human approval.',
  'breaker.hard':
    'A cost circuit breaker is at its hard level (red): only allowlisted recipients under the hard cap are allowed.',
  'breaker.emergency':
    'A cost circuit breaker reached its emergency level: nothing is signed until an owner resets it.',
  // Signature intents (docs/signatures.md): refused outright, before policy, except where a rule may allow it.
  'chain.raw_hash_signing':
    'The message is an opaque 32-byte hash (what eth_sign signs), which could authorise anything; refused.',
  'chain.chain_id_mismatch': "The typed data's domain chainId differs from the intent's chain; refused.",
  'chain.eip7702_authorization':
    'An EIP-7702 authorisation would delegate the account to other code: refused unless a rule names the delegate in authorization_delegate, and always for chain id 0.',
  'policy.authorization_delegate_allowed': 'The deciding rule names the EIP-7702 delegate in authorization_delegate.',
  'chain.typed_data_without_chain_id':
    "The typed data's domain has no chainId, so its signature is valid on every chain: refused unless a rule names its verifyingContract in typed_data_without_chain_id.",
  'policy.typed_data_without_chain_id_allowed':
    "The deciding rule names the typed data's verifyingContract in typed_data_without_chain_id (a domain without chainId).",
  'signature.human_approval_unsupported':
    'Signature intents cannot wait for a human approval: a rule or circuit breaker that asks for one rejects them.',
} as const;

export type ReasonCode = keyof typeof REASON_CODES;

/**
 * Codes the decoder (packages/decoder) answers with when calldata or typed data cannot be decoded. The gateway
 * refuses such an intent before its decision (`calldata_malformed`, `typed_data_malformed`).
 */
export const DECODE_ERRORS = {
  'decode.invalid_input': 'The transaction fields are not a valid address, value and hex calldata.',
  'decode.malformed_calldata':
    'Calldata with a known selector does not decode as that function (or is not its canonical ABI encoding).',
  'decode.malformed_typed_data': 'The EIP-712 payload is not a well-formed domain, types, primaryType and message.',
} as const;

export type DecodeErrorCode = keyof typeof DECODE_ERRORS;

/**
 * Reasons the decoder's `classifySigningRequest` refuses a signing request outright, before any policy runs. Three
 * of them also reach intents' decisions as reason codes (`REASON_CODES`), with the gateway's own sentence.
 */
export const SIGNING_REFUSALS = {
  'chain.raw_hash_signing':
    'The request signs an opaque 32-byte hash, which could authorise anything (a transaction, a Safe transaction, an order).',
  'chain.legacy_transaction': 'A legacy transaction without an EIP-155 chain id can be replayed on every chain.',
  'chain.chain_id_mismatch': "The transaction's or typed data's chain id differs from the intent's chain.",
  'chain.eip7702_authorization': 'An EIP-7702 authorisation list would delegate the account to other code.',
  'chain.typed_data_without_chain_id': "The typed data's domain has no chainId: its signature is valid on every chain.",
  'chain.malformed_signing_request': 'The signing request cannot be read well enough to check it.',
} as const;

export type SigningRefusalCode = keyof typeof SIGNING_REFUSALS;

export interface ErrorOptions {
  /** Machine-readable detail safe to show the caller (field names, limits). Never secrets or upstream bodies. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * The root of Clawd402's own errors (viem's `BaseError`, jose's `JOSEError`): a stable machine-readable `code` from a
 * catalogue above, a human `message`, the `cause` when there is one, and `statusCode` where the error answers an HTTP
 * request. `instanceof Clawd402BaseError` catches the gateway's and the signer's errors alike; `Clawd402Error` and
 * `SignerError` still tell them apart.
 */
export abstract class Clawd402BaseError<Code extends string = string> extends Error {
  readonly code: Code;
  /** The HTTP status this error answers with; absent for errors that never reach HTTP (the signer's). */
  declare readonly statusCode?: number;

  constructor(code: Code, message: string, options: { cause?: unknown; statusCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.statusCode !== undefined) (this as { statusCode?: number }).statusCode = options.statusCode;
  }
}

/**
 * Base class for every error the gateway answers with. `code` is stable API; `message` is a human sentence that may
 * be more specific than the catalogue's default; `details` is safe to return to the caller.
 */
export class Clawd402Error extends Clawd402BaseError<ApiErrorCode> {
  declare readonly statusCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ApiErrorCode, message?: string, options: ErrorOptions = {}) {
    super(code, message ?? API_ERRORS[code].message, { cause: options.cause, statusCode: API_ERRORS[code].status });
    this.name = 'Clawd402Error';
    this.details = options.details;
  }
}

/** An error the signer answered with. The gateway maps it to `signer_refused` or `signer_unavailable`. */
export class SignerError extends Clawd402BaseError<SignerErrorCode> {
  constructor(code: SignerErrorCode, message?: string, options: { cause?: unknown } = {}) {
    super(code, message ?? SIGNER_ERRORS[code], options);
    this.name = 'SignerError';
  }
}

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.hasOwn(API_ERRORS, code);
}
export function isSignerErrorCode(code: unknown): code is SignerErrorCode {
  return typeof code === 'string' && Object.hasOwn(SIGNER_ERRORS, code);
}

/**
 * The JSON-RPC endpoint's own codes (`POST /rpc`, docs/json-rpc.md): each answers as a JSON-RPC error whose numeric
 * `code` is `rpc` (JSON-RPC 2.0, EIP-1474 and EIP-1193 numbering) and whose `data.code` is the string here. Errors of
 * the other catalogues reaching `/rpc` keep their string code in `data.code` (docs/json-rpc.md lists the numbers).
 */
export const RPC_ERRORS = {
  rpc_invalid_request: { rpc: -32600, message: 'The JSON-RPC request is not a valid JSON-RPC 2.0 request object.' },
  rpc_method_not_found: { rpc: -32601, message: 'The method does not exist on this endpoint.' },
  /** The MCP server's (`POST /mcp`, docs/mcp.md): `tools/call` names no tool it has (MCP answers it as -32602). */
  mcp_unknown_tool: { rpc: -32602, message: 'No MCP tool has that name.' },
  rpc_method_refused: {
    rpc: 4200,
    message: 'The method would go around the policy (raw transactions, raw hashes, unbroadcast signatures); refused.',
  },
  rpc_invalid_params: { rpc: -32602, message: 'The method parameters are missing or invalid.' },
  rpc_batch_too_large: { rpc: -32005, message: 'The batch holds more requests than the gateway answers at once.' },
  rpc_range_too_large: { rpc: -32005, message: 'The eth_getLogs block range is wider than the gateway forwards.' },
  rpc_from_mismatch: { rpc: 4100, message: "The transaction's from is not the agent's signer address." },
  rpc_chain_mismatch: { rpc: 4901, message: 'The request names another chain than the endpoint is for.' },
  rpc_nonce_unsupported: {
    rpc: -32602,
    message: 'The gateway allocates nonces; to replace a transaction, cancel or speed up its intent.',
  },
  rpc_upstream_error: { rpc: -32000, message: "The chain's RPC answered the forwarded request with an error." },
  intent_pending_approval: {
    rpc: -32040,
    message: 'The intent waits for a human decision; wait for it at GET /v1/intents/:id?wait=.',
  },
  transaction_not_broadcast: {
    rpc: -32041,
    message: 'The transaction is signed but not yet broadcast; the gateway retries, wait at GET /v1/intents/:id?wait=.',
  },
} as const satisfies Record<string, { rpc: number; message: string }>;
export type RpcErrorCode = keyof typeof RPC_ERRORS;
