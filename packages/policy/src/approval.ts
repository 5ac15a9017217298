import Type, { type Static, type TSchema } from 'typebox';
import Value from 'typebox/value';
import { deepFreeze, type DecisionApproval } from '@clawd402/protocol';
import { joinPath, type PolicyIssue } from './parse-document.ts';

/** Longest wait one approval stage may name: 30 days, in seconds. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 24 * 3600;
/** Largest quorum and longest approver list. */
export const MAX_QUORUM = 100;
/** Roles whose members may be asked to approve (the gateway's roles that can hold the approve permission). */
export const APPROVER_ROLES = ['owner', 'admin', 'operator', 'approver'] as const;

const ChannelName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' });
const Channels = Type.Array(ChannelName, { minItems: 1, maxItems: 16 });
const Timeout = Type.Integer({ minimum: 1, maximum: MAX_APPROVAL_TIMEOUT_SECONDS });
const RoleName = Type.Union(APPROVER_ROLES.map((r) => Type.Literal(r)));

/** `notification:` of a `require_human_approval` rule (the document's snake_case shape). */
export const NotificationSchema = Type.Object(
  {
    channels: Channels,
    timeout: Type.Optional(Timeout),
    escalation: Type.Optional(Type.Object({ channels: Channels, timeout: Timeout }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

/** `quorum:` of a `require_human_approval` rule. */
export const QuorumSchema = Type.Object(
  {
    required: Type.Integer({ minimum: 1, maximum: MAX_QUORUM }),
    approvers: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: MAX_QUORUM }),
    ),
    role: Type.Optional(Type.Union([RoleName, Type.Array(RoleName, { minItems: 1, maxItems: APPROVER_ROLES.length })])),
    exclude_agent_owner: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** What a `require_human_approval` rule asks for; the same shape the decision carries as `approval`. */
export type ApprovalRequirement = DecisionApproval;

/** Default when a rule names no quorum: one approval by anyone with the approve permission. */
const DEFAULT_QUORUM = { required: 1, excludeAgentOwner: false } as const;

/**
 * Read `notification` and `quorum` of one rule (either may be absent). Pushes issues with full paths and returns
 * undefined if anything is wrong. Only called for rules whose action is `require_human_approval`.
 */
export function parseApproval(
  rule: Readonly<Record<string, unknown>>,
  path: string,
  issues: PolicyIssue[],
): ApprovalRequirement | undefined {
  const before = issues.length;
  const notificationPath = joinPath(path, 'notification');
  const quorumPath = joinPath(path, 'quorum');
  const notification = Object.hasOwn(rule, 'notification')
    ? checked(NotificationSchema, rule['notification'], notificationPath, issues)
    : undefined;
  const quorum = Object.hasOwn(rule, 'quorum') ? checked(QuorumSchema, rule['quorum'], quorumPath, issues) : undefined;
  if (notification !== undefined) {
    duplicates(notification.channels, joinPath(notificationPath, 'channels'), issues);
    if (notification.escalation !== undefined) {
      duplicates(
        notification.escalation.channels,
        joinPath(joinPath(notificationPath, 'escalation'), 'channels'),
        issues,
      );
    }
  }
  if (quorum !== undefined) {
    if (quorum.approvers !== undefined) {
      duplicates(quorum.approvers, joinPath(quorumPath, 'approvers'), issues);
      if (quorum.required > quorum.approvers.length) {
        issues.push({
          path: joinPath(quorumPath, 'required'),
          message: `asks for ${quorum.required} approvals but only ${quorum.approvers.length} approvers are listed`,
        });
      }
    }
    if (Array.isArray(quorum.role)) duplicates(quorum.role, joinPath(quorumPath, 'role'), issues);
  }
  if (issues.length > before) return undefined;

  const out: ApprovalRequirement = {
    notification: { channels: [...(notification?.channels ?? [])] },
    quorum: { ...DEFAULT_QUORUM },
  };
  if (notification?.timeout !== undefined) out.notification.timeoutSeconds = notification.timeout;
  if (notification?.escalation !== undefined) {
    out.notification.escalation = {
      channels: [...notification.escalation.channels],
      timeoutSeconds: notification.escalation.timeout,
    };
  }
  if (quorum !== undefined) {
    out.quorum.required = quorum.required;
    if (quorum.approvers !== undefined) out.quorum.approvers = [...quorum.approvers];
    if (quorum.role !== undefined)
      out.quorum.roles = typeof quorum.role === 'string' ? [quorum.role] : [...quorum.role];
    out.quorum.excludeAgentOwner = quorum.exclude_agent_owner ?? false;
  }
  return deepFreeze(out);
}

/** A fresh, mutable copy of an approval requirement, for a decision the caller may keep or change. */
export function copyApproval(approval: ApprovalRequirement): ApprovalRequirement {
  const { notification, quorum } = approval;
  const out: ApprovalRequirement = {
    notification: { channels: [...notification.channels] },
    quorum: { required: quorum.required, excludeAgentOwner: quorum.excludeAgentOwner },
  };
  if (notification.timeoutSeconds !== undefined) out.notification.timeoutSeconds = notification.timeoutSeconds;
  if (notification.escalation !== undefined) {
    out.notification.escalation = {
      channels: [...notification.escalation.channels],
      timeoutSeconds: notification.escalation.timeoutSeconds,
    };
  }
  if (quorum.approvers !== undefined) out.quorum.approvers = [...quorum.approvers];
  if (quorum.roles !== undefined) out.quorum.roles = [...quorum.roles];
  return out;
}

/**
 * Check a value against a typebox schema; on failure push one issue per offending location (the first message for
 * each path, with unknown keys named), and return undefined.
 */
function checked<S extends TSchema>(
  schema: S,
  value: unknown,
  path: string,
  issues: PolicyIssue[],
): Static<S> | undefined {
  if (Value.Check(schema, value)) return value;
  const start = issues.length;
  const seen = new Set<string>();
  /** One issue per path: a path two errors name is reported by the first. */
  const report = (at: string, message: string): void => {
    if (!seen.has(at)) issues.push({ path: at, message });
    seen.add(at);
  };
  for (const error of Value.Errors(schema, value)) {
    if (error.keyword === 'boolean') continue; // "schema is false" repeats an additionalProperties error
    if (error.keyword === 'additionalProperties' || error.keyword === 'required') {
      const params = error.params as { additionalProperties?: string[]; requiredProperties?: string[] };
      const [keys, message] =
        error.keyword === 'required'
          ? [params.requiredProperties ?? [], 'is required']
          : [params.additionalProperties ?? [], 'is not a known key'];
      for (const key of keys) report(joinPath(appendPointer(path, error.instancePath), key), message);
      continue;
    }
    // A bad role (or role list item) is reported once, at `role`, whichever union branch complained.
    const pointer = error.instancePath.startsWith('/role') ? '/role' : error.instancePath;
    report(appendPointer(path, pointer), describe(pointer, error.keyword, error.message));
  }
  if (issues.length === start) issues.push({ path, message: 'is not valid' });
  return undefined;
}

function describe(pointer: string, keyword: string, message: string): string {
  if (pointer === '/role') return `must be one of ${APPROVER_ROLES.join(', ')}, or a non-empty list of them`;
  if (keyword === 'pattern') return 'must be a name of letters, digits, "_", "." or "-" (at most 64 characters)';
  if (pointer.endsWith('timeout') && (keyword === 'type' || keyword === 'minimum' || keyword === 'maximum')) {
    return `must be a whole number of seconds from 1 to ${MAX_APPROVAL_TIMEOUT_SECONDS}`;
  }
  return message;
}

/** `/escalation/channels/0` appended to a policy path → `.escalation.channels[0]`. */
function appendPointer(path: string, pointer: string): string {
  let out = path;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out = joinPath(out, /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment);
  }
  return out;
}

function duplicates(values: readonly string[], path: string, issues: PolicyIssue[]): void {
  const seen = new Set<string>();
  values.forEach((value, index) => {
    if (seen.has(value)) issues.push({ path: joinPath(path, index), message: `repeats ${JSON.stringify(value)}` });
    seen.add(value);
  });
}
