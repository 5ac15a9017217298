/**
 * What the admin API answers, as the console reads it. Intents, decisions and simulations are the protocol's own types
 * (type-only imports: nothing of @clawd402/protocol is bundled); the rest mirror the admin routes' response schemas.
 */
import type { DecodedView, IntentView } from '@clawd402/protocol';

export type { DecodedView, IntentView, SimulationView } from '@clawd402/protocol';

export interface Items<T> {
  items: T[];
}

export interface ApprovalView {
  id: string;
  status: string;
  digest: string;
  required: number;
  approvedBy: string[];
  approvers: string[] | null;
  roles: string[] | null;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  reason: string | null;
  createdAt: string;
  intent: IntentView | null;
  decoded: DecodedView | null;
  valueUsd: string | null;
  agentId: string | null;
}

export interface OperatorIntent {
  agentId: string;
  valueUsd: string | null;
  intent: IntentView;
}
export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
}
export interface AuditSegment {
  fromSeq: number;
  toSeq: number;
  rows: number;
  ok: boolean | null;
  findings: { kind: string; seq: number; detail: string }[];
  note: string | null;
}
export interface IntentDetail extends OperatorIntent {
  transactions: { txHash: string; nonce: number; kind: string; route: string; createdAt: string }[];
  audit: AuditRecord[];
  auditSegment: AuditSegment | null;
}
export interface AuditPage extends Items<AuditRecord> {
  segment: AuditSegment | null;
}

export interface KillSwitchStatus {
  killSwitch: {
    engaged: boolean;
    engagedAt: string | null;
    engagedBy: string | null;
    reason: string | null;
    releaseVotes: string[];
  };
  signer: { latched: boolean; latchId: string | null; since: string | null } | null;
  pauses: { scope: string; pausedAt: string; pausedBy: string; reason: string }[];
}

export interface LintFinding {
  code?: string;
  rule?: string;
  path?: string;
  message: string;
}
export interface PolicyLint {
  errors: LintFinding[];
  warnings: LintFinding[];
}
export interface PoliciesList {
  active: { version: number; hash: string; activatedBy: string; activatedAt: string } | null;
  loaded: { version: number; hash: string; loaded: boolean };
  items: {
    version: number;
    hash: string;
    author: string;
    createdAt: string;
    active: boolean;
    lint: { errors: number; warnings: number };
  }[];
}
export interface PolicyVersion {
  version: number;
  content: string;
}
interface DecisionSummary {
  action: string;
  policy: string | null;
}
export interface DryRun {
  hash: string;
  lint: PolicyLint;
  replay?: {
    totals: { evaluated: number; changed: number; unchanged: number };
    changes: { intentId: string; agentId: string; before: DecisionSummary; after: DecisionSummary }[];
  };
}

export interface CostsView {
  defaults: { breaker: { warningUsd: string; softUsd: string; hardUsd: string; emergencyUsd: string } };
  scopes: {
    scope: string;
    spend: { dayUsd: string; dayCount: number; hourUsd: string };
    limits: { dailyUsd: string | null; hourlyUsd: string | null };
    breaker: { level: string; state: string; latchedAt: string | null };
  }[];
  byAsset: { chainId: number; asset: string; dayUsd: string; count: number }[];
}

export interface AlertView {
  id: string;
  severity: string;
  summary: string;
  status: string;
  occurrences: number;
  lastAt: string;
}

export interface AgentView {
  id: string;
  name: string;
  signerAddress: string;
  disabled: boolean;
  keys: {
    id: string;
    keyId: string;
    label: string | null;
    scopes: { chains: number[] | null; types: string[] | null };
    lastUsedAt: string | null;
    expiresAt: string | null;
    revokedAt: string | null;
    replacedBy: string | null;
    quarantinedUntil: string | null;
  }[];
}
export type KeyView = AgentView['keys'][number];
/** A key as the API answers it once, at creation or rotation. */
export interface IssuedKey {
  apiKeyId: string;
  agentId: string;
  apiKey: string;
}
export interface SignerKey {
  address: string;
  state: string;
  label: string | null;
}

export interface SecurityStatus {
  generatedAt: string;
  score: number;
  total: number;
  level: string;
  checks: { id: string; title: string; ok: boolean; evidence: string; fix: string | null }[];
}

export interface ChannelView {
  name: string;
  kind: string;
  settings: {
    url?: string;
    host?: string;
    port?: number;
    tls?: string;
    username?: string | null;
    from?: string;
    to?: string[];
    severity?: string;
  };
  secret: { hint: string } | null;
  updatedAt: string;
}
export interface TestOutcome {
  id: string;
  delivered: boolean;
  status: string;
  attempts: number;
  httpStatus: number | null;
  error: { code: string; message: string } | null;
}
export interface OutboxItem {
  id: string;
  channel: string;
  event: string;
  status: string;
  attempts: number;
  lastAttemptAt: string | null;
  lastErrorCode: string | null;
  lastError: string | null;
  lastHttpStatus: number | null;
}

export interface UserView {
  id: string;
  username: string;
  role: string;
  disabled: boolean;
  createdAt: string;
}
export interface SessionView {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  ip: string;
  userAgent: string | null;
}

export interface IncidentView {
  id: string;
  rule: string;
  severity: string;
  subject: string;
  summary: string;
  status: string;
  openedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
}

export interface IncidentDetail {
  incident: IncidentView;
  timeline: { id: string; at: string; kind: string; actor: string; summary: string }[];
  responsesInForce: { response: string; target: string }[];
}
