/**
 * The catalogue of security-relevant log events (docs/logging.md lists every one; a test keeps the two equal). Each
 * event has a category, a fixed level, a one-line meaning (the line's `msg`) and the fields it may carry. Log lines
 * for these events are written only through {@link logEvent}, so a call site cannot invent an undocumented event or
 * field: both are type errors.
 *
 * Levels: `error` the system failed at something it must do; `warn` a security-relevant event someone should look at;
 * `info` a normal but notable event; `debug` per-intent progress (a busy gateway writes many of these).
 */

export const LOG_CATEGORIES = ['auth', 'intent', 'money', 'chain', 'signer', 'admin', 'system'] as const;
export type LogCategory = (typeof LOG_CATEGORIES)[number];
export type LogEventLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug';

export interface LogEventSpec {
  category: LogCategory;
  level: LogEventLevel;
  /** One line, written as the log line's `msg`. */
  meaning: string;
  /** The fields the line may carry besides `err` (an error, serialised by pino). */
  fields: readonly string[];
}

const spec = <const F extends readonly string[]>(
  category: LogCategory,
  level: LogEventLevel,
  meaning: string,
  fields: F,
): { category: LogCategory; level: LogEventLevel; meaning: string; fields: F } => ({
  category,
  level,
  meaning,
  fields,
});

export const LOG_EVENTS = {
  // auth: who is calling, and whether they may
  'auth.login_succeeded': spec('auth', 'info', 'a user logged in', ['userId', 'sessionId', 'ip']),
  'auth.login_failed': spec('auth', 'info', 'a login failed (unknown user, wrong password or disabled user)', [
    'ip',
    'reason',
    'userId',
    'blocked',
  ]),
  'auth.totp_failed': spec('auth', 'info', 'a login failed on a wrong or replayed TOTP code', [
    'ip',
    'userId',
    'blocked',
  ]),
  'auth.login_refused_blocked': spec('auth', 'warn', 'a login from a blocked address was refused', ['ip']),
  'auth.ip_blocked': spec('auth', 'warn', 'an address was blocked after repeated failed logins', ['ip', 'reason']),
  'auth.ip_unblocked': spec('auth', 'warn', 'an operator lifted an address block', ['ip', 'userId']),
  'auth.refresh_token_reused': spec(
    'auth',
    'warn',
    'a refresh token was used twice: its session (the token family) is revoked and a critical alert raised',
    ['ip', 'userId', 'sessionId'],
  ),
  'auth.refresh_refused': spec('auth', 'info', 'a refresh token was refused (unknown, expired or its session ended)', [
    'ip',
    'outcome',
  ]),
  'auth.api_key_refused': spec('auth', 'info', 'an API key exchange was refused (the reason, never the key)', [
    'ip',
    'reason',
  ]),
  'auth.network_blocked': spec('auth', 'warn', 'an API key exchange from a blocked network was refused', [
    'ip',
    'network',
  ]),
  'auth.token_refused': spec(
    'auth',
    'info',
    'an access token was refused: its key, agent or session is no longer valid',
    ['ip', 'reason', 'agentId', 'apiKeyId', 'userId', 'sessionId', 'until'],
  ),
  'auth.forbidden': spec('auth', 'warn', 'an authenticated caller asked for something its role does not allow', [
    'principal',
    'role',
    'permission',
    'route',
  ]),
  'auth.csrf_refused': spec('auth', 'warn', 'a console request without a valid CSRF token was refused', [
    'ip',
    'route',
  ]),
  'auth.admin_address_refused': spec('auth', 'warn', 'an admin request from an address outside ADMIN_ALLOWLIST', [
    'ip',
    'route',
  ]),
  'auth.rate_limited': spec('auth', 'info', 'a rate limit refused a request', [
    'scope',
    'ip',
    'route',
    'method',
    'agentId',
    'apiKeyId',
    'userId',
    'apiKeyLast4',
    'code',
    'count',
    'limit',
    'hits',
    'retryAfter',
  ]),
  'auth.client_blocked': spec('auth', 'warn', 'a client was blocked after repeated rate-limit hits', [
    'scope',
    'ip',
    'route',
    'method',
    'agentId',
    'apiKeyId',
    'userId',
    'apiKeyLast4',
    'subject',
    'tier',
    'until',
    'hits',
  ]),
  'auth.api_key_quarantined': spec(
    'auth',
    'warn',
    'repeated hostile intents quarantined an API key (or revoked it, `revoked: true`)',
    ['agentId', 'apiKeyId', 'quarantinedUntil', 'revoked'],
  ),
  'auth.sessions_ended': spec('auth', 'warn', 'the access-token signing key changed: every session ended', [
    'sessionsEnded',
  ]),

  // admin: what operators changed
  'admin.api_key_created': spec('admin', 'info', 'an API key was issued', ['userId', 'agentId', 'apiKeyId']),
  'admin.api_key_rotated': spec('admin', 'info', 'an API key was rotated; the old one works until the overlap ends', [
    'userId',
    'apiKeyId',
    'newApiKeyId',
    'overlapSeconds',
  ]),
  'admin.api_key_revoked': spec('admin', 'info', 'an API key was revoked', ['userId', 'apiKeyId']),
  'admin.quarantine_lifted': spec('admin', 'info', "an operator lifted an API key's quarantine", [
    'userId',
    'apiKeyId',
  ]),
  'admin.policy_activated': spec('admin', 'info', 'a policy version was activated', ['userId', 'version', 'hash']),
  'admin.killswitch_engaged': spec('admin', 'warn', 'the kill switch was engaged: nothing new is signed', [
    'userId',
    'signerLatched',
  ]),
  'admin.killswitch_released': spec('admin', 'warn', 'the kill switch was released', ['userId', 'released']),
  'admin.paused': spec('admin', 'warn', 'an agent, API key or chain was paused', ['userId', 'scope']),
  'admin.resumed': spec('admin', 'info', 'an agent, API key or chain was resumed', ['userId', 'scope']),

  // intent: one intent through the path
  'intent.refused': spec('intent', 'info', 'an intent was refused before it was stored', ['code', 'agentId', 'reason']),
  'intent.hygiene_refused': spec('intent', 'warn', 'an intent tripped the input-hygiene rules and was refused', [
    'agentId',
    'apiKeyId',
    'hygieneCategory',
    'rule',
    'field',
    'hitsLastHour',
    'hitsLastDay',
    'action',
  ]),
  'intent.decided': spec('intent', 'debug', 'an intent was decided (approved, rejected or waiting for a human)', [
    'intentId',
    'agentId',
    'type',
    'chainId',
    'status',
    'policy',
    'codes',
  ]),
  'intent.approval_requested': spec('intent', 'info', 'an intent waits for human approval', ['intentId', 'agentId']),
  'intent.approved': spec('intent', 'info', 'a human approval was completed', ['intentId', 'approvalId', 'userId']),
  'intent.rejected': spec('intent', 'info', 'a human rejected an intent', ['intentId', 'approvalId', 'userId']),
  'intent.signed': spec('intent', 'debug', 'an intent was signed and stored', [
    'intentId',
    'chainId',
    'nonce',
    'txHash',
  ]),
  'intent.submitted': spec('intent', 'debug', 'a signed transaction was broadcast', [
    'intentId',
    'chainId',
    'txHash',
    'route',
  ]),
  'intent.settled': spec('intent', 'debug', 'a transaction was mined: the intent ended (confirmed, failed, …)', [
    'intentId',
    'chainId',
    'txHash',
    'status',
  ]),
  'intent.failed': spec('intent', 'warn', 'an approved intent could not be signed; nothing was signed that can leave', [
    'intentId',
    'code',
  ]),

  // money: budgets and breakers
  'money.spend_limit_exceeded': spec('money', 'info', 'an intent was rejected: it would take a spend limit over', [
    'intentId',
    'agentId',
  ]),
  'money.breaker_level_changed': spec('money', 'warn', 'a circuit breaker changed level', ['scope', 'from', 'to']),
  'money.release_failed': spec('money', 'error', "an intent's spend reservation could not be released yet", [
    'intentId',
  ]),

  // chain: RPC endpoints and broadcasts
  'chain.rpc_failover': spec('chain', 'warn', 'an RPC endpoint failed; requests go to the next one', [
    'chainId',
    'endpoint',
    'failures',
    'reason',
  ]),
  'chain.rpc_recovered': spec('chain', 'info', 'an RPC endpoint answers again', ['chainId', 'endpoint']),
  'chain.broadcast_failed': spec('chain', 'warn', 'a signed transaction could not be broadcast; the tracker retries', [
    'intentId',
    'chainId',
    'route',
  ]),
  'chain.reorg': spec('chain', 'warn', 'the chain reorganised under settled intents', [
    'chainId',
    'fromBlock',
    'settled',
  ]),

  // signer: the signer process and the gateway's view of it
  'signer.unavailable': spec('signer', 'error', 'the signer is unreachable: an intent failed unsigned', [
    'intentId',
    'reason',
  ]),
  'signer.latch_failed': spec(
    'signer',
    'error',
    'the kill switch could not latch the signer yet; every process retries',
    [],
  ),
  'signer.signed': spec('signer', 'info', 'the signer signed under a ticket', [
    'requestId',
    'jti',
    'iid',
    'cid',
    'from',
    'hash',
    'digest',
    'nonce',
    'nonceMode',
    'op',
  ]),
  'signer.refused': spec('signer', 'info', 'the signer refused a request', ['requestId', 'id', 'method', 'code']),
  'signer.internal_error': spec('signer', 'error', 'the signer failed on a request (the error class only)', [
    'requestId',
    'id',
    'method',
    'errorName',
  ]),
  'signer.frame_refused': spec('signer', 'info', 'the signer refused a frame and closed the connection', ['code']),
  'signer.latched': spec('signer', 'warn', 'the signer latched (kill switch): only cancellations are signed', [
    'requestId',
    'latchId',
  ]),
  'signer.latch_released': spec('signer', 'warn', "the signer's kill-switch latch was released", [
    'requestId',
    'latchId',
  ]),
  'signer.started': spec('signer', 'info', 'the signer is listening', ['socket', 'keys', 'chains', 'policy']),
  'signer.startup_refused': spec('signer', 'fatal', 'the signer refused to start: a configuration error', ['reason']),
  'signer.reload_failed': spec('signer', 'error', 'a reload failed; the previous configuration is kept', [
    'errorName',
    'reason',
  ]),
  'signer.insecure_setup': spec('signer', 'warn', 'the signer runs with a weaker setup than production needs', [
    'problem',
    'file',
    'dir',
    'chains',
  ]),

  // system: the gateway keeping itself running
  'system.startup_refused': spec('system', 'fatal', 'the process refused to start: a configuration error', ['reason']),
  'system.job_failed': spec('system', 'error', 'a scheduled job run failed; it is retried', ['job', 'attempt']),
  'system.job_lease_lost': spec('system', 'warn', "a scheduled job's lease was lost before it finished", [
    'job',
    'runId',
  ]),
  'system.alert_opened': spec('system', 'warn', 'an alert was raised and routed to its channels', [
    'alertId',
    'kind',
    'severity',
    'subject',
    'channels',
  ]),
  'system.incident_opened': spec('system', 'warn', 'an incident was opened by the incident watch', [
    'incidentId',
    'rule',
    'responses',
  ]),
  'system.audit_verification_failed': spec('system', 'error', 'the audit chain failed verification', [
    'seq',
    'kind',
    'findings',
  ]),
  'system.policy_unavailable': spec(
    'system',
    'error',
    'no active policy version, or the active one does not load in this build: every intent is denied',
    ['version'],
  ),
  'system.policy_applied': spec('system', 'info', 'this process now decides with a policy version', [
    'version',
    'hash',
  ]),
  'system.simulation_off': spec(
    'system',
    'warn',
    'SIMULATION=off: transactions are signed without being simulated',
    [],
  ),
  'system.redis_error': spec('system', 'error', 'Redis failed; rate limits fail open', []),
} as const satisfies Record<string, LogEventSpec>;

export type LogEventName = keyof typeof LOG_EVENTS;

/** The fields `event` may carry: those the catalogue lists, each optional, plus `err`. */
export type LogEventFields<E extends LogEventName> = {
  [K in (typeof LOG_EVENTS)[E]['fields'][number]]?: unknown;
} & { err?: unknown };

type LogMethod = (obj: object, msg?: string) => void;
/** The level methods {@link logEvent} needs: a pino logger, a child of one, or fastify's `request.log`. */
export type EventLogger = Record<LogEventLevel, LogMethod>;

/**
 * Write one catalogued event: `{category, event, ...fields}` at the catalogue's level, with its meaning as `msg`.
 *
 * @example logEvent(request.log, 'auth.login_failed', { ip, reason: 'wrong password', blocked: false })
 */
export function logEvent<E extends LogEventName>(log: EventLogger, event: E, fields: LogEventFields<E>): void {
  const entry: LogEventSpec = LOG_EVENTS[event];
  log[entry.level]({ ...fields, category: entry.category, event }, entry.meaning);
}
