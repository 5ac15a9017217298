import type { AlertSeverity } from './alert.ts';

/**
 * Incidents (docs/incidents.md): a detection rule that fired on a subject (an API key or an agent), the automatic
 * response configuration chose for it, and a timeline of what was detected and done.
 */
export const INCIDENT_RULES = {
  /** An API key exchanged from a network (/24, /64) or user agent it never used, then a burst of intents. */
  new_network_burst: 'critical',
  /** An agent's spend in the last hour above a multiple of its 7-day hourly average. */
  cost_spike: 'high',
  /** More than a share of an agent's intents of the last minutes ended rejected or failed. */
  error_rate: 'high',
  /** Repeated attempts by one API key to get around the policy (raw-hash or foreign-chain signing, refused calls). */
  policy_bypass: 'critical',
} as const satisfies Record<string, AlertSeverity>;
export type IncidentRule = keyof typeof INCIDENT_RULES;
export const INCIDENT_RULE_NAMES = Object.keys(INCIDENT_RULES) as IncidentRule[];

/**
 * What the watch does on its own when a rule opens an incident (one or more per rule, or none). Each is audited,
 * shows on the timeline and is reversible: resolving with `revert` undoes what is still in force.
 * - `pause_key`: pause the API key (`key:<id>`): its intents are refused `api_key_paused` ("disable the key").
 * - `pause_agent`: pause the agent (`agent:<id>`): `agent_paused`.
 * - `block_network`: block the network the key was newly used from (IPv4 /24, IPv6 /64) for logins and key exchanges.
 * - `breaker_soft`: set the agent's soft breaker threshold to 0: every intent the policy would auto-approve waits for
 *   a human (`breaker.soft`).
 */
export const INCIDENT_RESPONSES = ['pause_key', 'pause_agent', 'block_network', 'breaker_soft'] as const;
export type IncidentResponse = (typeof INCIDENT_RESPONSES)[number];

/** The responses by default (INCIDENT_RESPONSES overrides them per rule). */
export const DEFAULT_INCIDENT_RESPONSES: Record<IncidentRule, readonly IncidentResponse[]> = {
  new_network_burst: ['pause_key', 'block_network'],
  cost_spike: ['breaker_soft'],
  error_rate: [],
  policy_bypass: ['pause_key'],
};

/** A response still in force, as a revert would undo it. */
export interface ResponseInForce {
  response: IncidentResponse;
  /** `key:<id>`, `agent:<id>` (pauses and the breaker's scope) or the network (`198.51.100.0/24`). */
  target: string;
}

export const INCIDENT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export const INCIDENT_EVENT_KINDS = [
  'detected',
  'alert',
  'response',
  'response_failed',
  'acknowledged',
  'note',
  'resolved',
  'reverted',
] as const;
export type IncidentEventKind = (typeof INCIDENT_EVENT_KINDS)[number];

/**
 * Decision reason codes that mark an attempt to get around the policy (docs/errors.md#reason-codes): signing an opaque
 * hash, typed data for another chain or for every chain, an EIP-7702 delegation, a legacy transaction without a chain
 * id. Rejected `contract_call` intents (a decoded call the policy refused) count too.
 */
export const BYPASS_REASON_CODES = [
  'chain.raw_hash_signing',
  'chain.chain_id_mismatch',
  'chain.typed_data_without_chain_id',
  'chain.eip7702_authorization',
  'chain.legacy_transaction',
] as const;

/**
 * Refusals audited as `intent.refused` that are bypass attempts on the JSON-RPC surface: a method that would go around
 * the policy (`eth_sign` of a raw hash, `eth_sendRawTransaction`, `eth_signTransaction`, old typed data), and a
 * transaction for another chain than the endpoint's. Counted as `<code>:<method>` / `<code>`.
 */
export const BYPASS_REFUSAL_CODES = ['rpc_method_refused', 'rpc_chain_mismatch'] as const;

/** A rule's finding: what opens (or is already) an incident. */
export interface Detection {
  rule: IncidentRule;
  /** `api_key:<uuid>` or `agent:<uuid>`. */
  subject: string;
  agentId: string;
  apiKeyId: string | null;
  /** The network the key was newly used from (`new_network_burst`): what `block_network` blocks. */
  network?: string;
  summary: string;
  /** JSON-safe evidence, no secrets. */
  detail: Record<string, unknown>;
}

export interface IncidentRecord {
  id: string;
  rule: IncidentRule;
  severity: AlertSeverity;
  subject: string;
  summary: string;
  detail: Record<string, unknown>;
  status: IncidentStatus;
  openedAt: Date;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
}

export interface IncidentEvent {
  id: string;
  at: Date;
  kind: IncidentEventKind;
  actor: string;
  summary: string;
  detail: Record<string, unknown>;
  alertId: string | null;
}

/** The network an address belongs to for `new_network_burst`: IPv4 /24, IPv6 /64. */
export const IPV4_NETWORK_BITS = 24;

/**
 * Parse `rule=response[+response…],…` (INCIDENT_RESPONSES; `none` for no response) over the defaults; the reason when
 * malformed.
 */
export function parseIncidentResponses(
  raw: string,
): { ok: true; value: Record<IncidentRule, readonly IncidentResponse[]> } | { ok: false; reason: string } {
  const value = { ...DEFAULT_INCIDENT_RESPONSES };
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [rule, responses, extra] = part.split('=').map((s) => s.trim());
    if (extra !== undefined || !rule || !responses) return { ok: false, reason: `"${part}" is not rule=response` };
    if (!(rule in INCIDENT_RULES)) return { ok: false, reason: `unknown rule "${rule}"` };
    const list: IncidentResponse[] = [];
    for (const response of responses === 'none' ? [] : responses.split('+').map((r) => r.trim())) {
      if (!(INCIDENT_RESPONSES as readonly string[]).includes(response))
        return { ok: false, reason: `unknown response "${response}" (none, ${INCIDENT_RESPONSES.join(', ')})` };
      if (!list.includes(response as IncidentResponse)) list.push(response as IncidentResponse);
    }
    value[rule as IncidentRule] = list;
  }
  return { ok: true, value };
}
