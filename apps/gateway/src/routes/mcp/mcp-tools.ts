import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import Type, { type TObject, type TSchema } from 'typebox';
import {
  API_ERRORS,
  Clawd402Error,
  ContractCallIntentBody,
  INTENT_STATUSES,
  SwapIntentBody,
  TransferIntentBody,
  TypedDataIntentBody,
  X402PaymentIntentBody,
  isApiErrorCode,
  type ApiErrorCode,
  type IntentBody,
  type IntentStatus,
  type IntentView,
  type RpcErrorCode,
} from '@clawd402/protocol';
import type { AgentContext } from '../../domain/agent.ts';
import { mcpOrigin } from '../../domain/origin.ts';
import type { Logger } from '../../domain/logger.ts';
import type { IntentPath } from '../../intent-path/intent-path.ts';
import type { CostsService } from '../../services/costs-service.ts';
import type { IntentWatcher } from '../../services/intent-watcher.ts';
import type { IntentRecord, IntentsService } from '../../services/intents-service.ts';
import { toIntentView } from '../v1/intent-view.ts';
import { isSettled } from '../v1/intent-waiting.ts';
import { IDEMPOTENCY_KEY, decodeCursor, encodeCursor } from '../v1/intents.ts';
import { toApiError } from '../../plugins/app/errors.ts';
import { Literals } from '../schemas.ts';
import { loadMcpSdk } from './mcp-sdk.ts';

/** What the tools use: the intent path, intent reads, budgets and the status watcher (all built in app.ts). */
export interface McpToolDeps {
  pipeline: Pick<IntentPath, 'submit'>;
  intents: IntentsService;
  costs: Pick<CostsService, 'budgetsOf'>;
  watcher: Pick<IntentWatcher, 'subscribe'>;
  /** Aborted when the gateway starts closing: a `wait_intent` answers at once. */
  closing: AbortSignal;
  log: Logger;
}

/** One MCP tool: name, description, JSON Schema of its arguments. */
export interface McpTool {
  name: string;
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
}

/** A tool's answer as MCP carries it: a human sentence with the JSON, and the same JSON structured. */
export interface McpToolResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  structuredContent: Record<string, unknown>;
  isError?: boolean;
}

/** The caller of one tool call: the authenticated agent and the MCP client's self-declared name. */
export interface McpCaller {
  agent: AgentContext;
  client: string | null;
  /** The HTTP request's id, for the signer's log (docs/logging.md). */
  requestId?: string;
}

/** An intent body schema without its `type` (the tool names it), as MCP's `inputSchema`. */
function argumentsOf(body: TObject): TObject {
  const { type: _type, ...properties } = body.properties as Record<string, TSchema>;
  return Type.Object(properties, { additionalProperties: false });
}

const IntentId = Type.String({ format: 'uuid', description: 'The intent id a submitting tool answered.' });

const SCHEMAS = {
  get_budget: Type.Object({}, { additionalProperties: false }),
  transfer: argumentsOf(TransferIntentBody),
  swap: argumentsOf(SwapIntentBody),
  contract_call: argumentsOf(ContractCallIntentBody),
  sign_typed_data: argumentsOf(TypedDataIntentBody),
  pay_x402: Type.Object(
    {
      ...argumentsOf(X402PaymentIntentBody).properties,
      idempotencyKey: Type.Optional(
        Type.String({
          pattern: IDEMPOTENCY_KEY.source,
          description:
            'Names this payment: the same key and the same requirement answer the same authorisation, so a retry ' +
            'never pays twice (as the Idempotency-Key header of POST /v1/intents).',
        }),
      ),
    },
    { additionalProperties: false },
  ),
  get_intent: Type.Object({ id: IntentId }, { additionalProperties: false }),
  wait_intent: Type.Object(
    {
      id: IntentId,
      timeoutSeconds: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 60, description: 'How long to wait at most (default 30).' }),
      ),
    },
    { additionalProperties: false },
  ),
  list_intents: Type.Object(
    {
      status: Type.Optional(Literals(INTENT_STATUSES)),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
      cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page.' })),
    },
    { additionalProperties: false },
  ),
} as const;

export type McpToolName = keyof typeof SCHEMAS;

const DESCRIPTIONS: Record<McpToolName, string> = {
  get_budget:
    'What is left of each spend limit (USD, rolling 24 h and 1 h) that your payments count against. Read-only.',
  transfer:
    'Send native coin ("asset": "native") or an ERC-20 token (its address) to an address. "amount" is in display units ' +
    '("0.01" ETH). The operator\'s policy decides: it may go ahead, be refused, or wait for a human to approve it. ' +
    'Answers the intent; call wait_intent with its id to follow it to confirmation.',
  swap:
    'Swap exactly inputAmount of inputAsset for at least the quote less maxSlippagePercent of outputAsset on the ' +
    "gateway's configured DEX router, mined before deadline (unix seconds). Decided by policy like a transfer.",
  contract_call:
    'Call a contract with the given calldata ("data", 0x hex) and optional native value. The gateway decodes and ' +
    'simulates the call before the policy decides.',
  sign_typed_data:
    "Sign EIP-712 typed data ({domain, types, primaryType, message}) with the agent's key, if the policy allows. " +
    'Answers the signature once signed. Nothing is broadcast.',
  pay_x402:
    'Pay one x402 requirement: a resource you requested answered 402 Payment Required, and you pass the URL and the ' +
    "one requirement you picked from it (docs/x402.md). The operator's policy and budgets decide; once signed, the " +
    'answer carries the EIP-3009 authorisation and its signature for the payment header. The gateway never requests ' +
    'the resource itself.',
  get_intent: 'Read one of your intents by id: status, decision, transaction hash, error.',
  wait_intent:
    'Wait (up to timeoutSeconds, default 30, at most 60) until an intent is settled — confirmed, failed, rejected, ' +
    'signed (signatures) — or a human decided it, then answer it. Call again if it is still pending.',
  list_intents: 'List your intents, newest first, optionally by status; pass nextCursor to read the next page.',
};

/** Every tool, in the order `tools/list` answers them. */
export const MCP_TOOLS: readonly McpTool[] = Object.freeze(
  (Object.keys(SCHEMAS) as McpToolName[]).map((name) => ({
    name,
    description: DESCRIPTIONS[name],
    inputSchema: SCHEMAS[name],
  })),
);

/** Tools that submit an intent, and the intent type each submits. */
const SUBMITTING: Partial<Record<McpToolName, IntentBody['type']>> = {
  transfer: 'transfer',
  swap: 'swap',
  contract_call: 'contract_call',
  sign_typed_data: 'typed_data',
  pay_x402: 'x402_payment',
};

/**
 * The MCP tools over the gateway's own services. Every submitting tool is one intent through the intent path
 * (intent-path/intent-path.ts) with origin `mcp`, the tool's name and the client's name: the same screen (intent
 * hygiene), policy, budgets and audit as `POST /v1/intents`. A refusal is a tool result with `isError` and the stable
 * code of docs/errors.md; a decision waiting for a human is a normal result saying so, with the id to wait on.
 */
export class McpTools {
  private readonly validators: Record<McpToolName, ValidateFunction>;

  constructor(private readonly deps: McpToolDeps) {
    const ajv = new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: false, strict: false });
    addFormats.default(ajv);
    this.validators = Object.fromEntries(
      Object.entries(SCHEMAS).map(([name, schema]) => [name, ajv.compile(schema)]),
    ) as Record<McpToolName, ValidateFunction>;
  }

  /** Run one tool call; never throws for a refusal (that is a result with `isError`), only for an unknown tool. */
  async call(caller: McpCaller, name: string, args: unknown): Promise<McpToolResult> {
    if (!Object.hasOwn(SCHEMAS, name)) throw await unknownTool(name);
    const tool = name as McpToolName;
    try {
      this.validate(tool, args ?? {});
      return await this.run(caller, tool, (args ?? {}) as Record<string, unknown>);
    } catch (error) {
      const apiError = toApiError(error);
      if (API_ERRORS[apiError.code].status >= 500) {
        this.deps.log.error({ err: error, tool }, 'MCP tool failed');
      } else if (SUBMITTING[tool]) {
        await this.deps.intents.auditRefusal(caller.agent, apiError.code).catch((auditError: unknown) => {
          this.deps.log.error({ err: auditError }, 'could not audit a refused MCP tool call');
        });
      }
      const status = API_ERRORS[apiError.code].status;
      return refusal(apiError.code, status >= 500 ? API_ERRORS[apiError.code].message : apiError.message, {
        ...(apiError.details ? { details: apiError.details } : {}),
      });
    }
  }

  private validate(tool: McpToolName, args: unknown): void {
    const validate = this.validators[tool];
    if (validate(args)) return;
    const issue = validate.errors?.[0];
    const field = issue?.instancePath ? issue.instancePath.slice(1).replaceAll('/', '.') : undefined;
    const extra = issue?.keyword === 'additionalProperties' ? String(issue.params['additionalProperty']) : undefined;
    throw new Clawd402Error(
      extra ? 'unknown_field' : 'invalid_request',
      extra ? `${extra} is not an argument of ${tool}.` : `${field ?? 'arguments'} ${issue?.message ?? 'is invalid'}.`,
      { details: { field: extra ?? field ?? null } },
    );
  }

  private async run(caller: McpCaller, tool: McpToolName, args: Record<string, unknown>): Promise<McpToolResult> {
    const { agent } = caller;
    const type = SUBMITTING[tool];
    if (type) {
      // The arguments passed the tool's schema, which is the intent body's without `type` (pay_x402: and its key).
      const { idempotencyKey, ...rest } = args;
      const body = Object.assign({}, rest, { type }) as IntentBody;
      const { intent } = await this.deps.pipeline.submit(
        agent,
        body,
        typeof idempotencyKey === 'string' ? idempotencyKey : null,
        mcpOrigin(tool, caller.client),
        caller.requestId,
      );
      return intentResult(intent);
    }
    switch (tool) {
      case 'get_budget': {
        const budgets = await this.deps.costs.budgetsOf(agent);
        const lines = budgets.map((b) => `${b.scope} ${b.window}: ${b.remainingUsd} USD left of ${b.limitUsd}`);
        return result(lines.length > 0 ? lines.join('\n') : 'No spend limit applies.', { budgets });
      }
      case 'get_intent': {
        const intent = await this.deps.intents.getForAgent(agent.agentId, args['id'] as string);
        return result(summary(intent), { intent: toIntentView(intent), settled: isSettled(intent) });
      }
      case 'wait_intent':
        return this.wait(agent.agentId, args['id'] as string, (args['timeoutSeconds'] as number | undefined) ?? 30);
      case 'list_intents': {
        const page = await this.deps.intents.listForAgent(agent.agentId, {
          ...(args['status'] ? { status: args['status'] as IntentStatus } : {}),
          limit: (args['limit'] as number | undefined) ?? 20,
          ...(args['cursor'] ? { after: decodeCursor(args['cursor'] as string) } : {}),
        });
        const items = page.items.map(toIntentView);
        return result(items.length === 0 ? 'No intents.' : page.items.map(summary).join('\n'), {
          items,
          nextCursor: page.next ? encodeCursor(page.next) : null,
        });
      }
      default:
        throw await unknownTool(tool);
    }
  }

  /** Subscribed before the read, so no change falls in between; answers when settled, or pending approval decided. */
  private async wait(agentId: string, id: string, seconds: number): Promise<McpToolResult> {
    const subscription = this.deps.watcher.subscribe(agentId, [id]);
    try {
      let intent = await this.deps.intents.getForAgent(agentId, id);
      if (!isSettled(intent)) {
        const start = intent.status;
        await subscription.until(
          (changed) =>
            changed.id === id && (isSettled(changed) || (start === 'pending_approval' && changed.status !== start)),
          seconds * 1000,
          this.deps.closing,
        );
        intent = await this.deps.intents.getForAgent(agentId, id);
      }
      return intentResult(intent, true);
    } finally {
      subscription.close();
    }
  }
}

/** An unknown tool is a protocol error (JSON-RPC -32602), as the MCP specification asks, not a tool result. */
async function unknownTool(name: string): Promise<McpError> {
  const code: RpcErrorCode = 'mcp_unknown_tool';
  const { McpError, ErrorCode } = await loadMcpSdk(); // loaded already: this runs inside an /mcp request
  return new McpError(ErrorCode.InvalidParams, `No tool named ${name.slice(0, 64)}.`, { code });
}

function result(text: string, structured: Record<string, unknown>, isError = false): McpToolResult {
  return {
    content: [{ type: 'text', text: `${text}\n\n${JSON.stringify(structured)}` }],
    structuredContent: structured,
    ...(isError ? { isError: true } : {}),
  };
}

function refusal(code: ApiErrorCode, message: string, extra: Record<string, unknown>): McpToolResult {
  return result(`Refused (${code}): ${message}`, { code, message, ...extra }, true);
}

/** One line an agent (or a person reading the transcript) can act on. */
function summary(intent: IntentRecord): string {
  const base = `Intent ${intent.id} (${intent.type}) is ${intent.status}`;
  switch (intent.status) {
    case 'pending_approval':
      return `${base}: a human must approve it before anything is signed. Call wait_intent with id ${intent.id} to wait for the decision.`;
    case 'rejected':
      return `${base}: ${intent.decision?.reasons.map((r) => r.message).join('; ') || 'refused by policy'}.`;
    case 'failed':
      return `${base}: ${intent.error?.code ?? 'failed'}.`;
    case 'confirmed':
      return `${base}: transaction ${intent.txHash} is confirmed.`;
    default:
      return isSettled(intent)
        ? `${base}.`
        : `${base}${intent.txHash ? ` (transaction ${intent.txHash})` : ''}. Call wait_intent with id ${intent.id} to follow it.`;
  }
}

/**
 * An intent as a tool result. A policy rejection and a failure carry their code with `isError` (as REST answers 403 /
 * the failure's status); a pending approval is a normal result whose `status` says a human must decide.
 */
function intentResult(intent: IntentRecord, waited = false): McpToolResult {
  const view: IntentView = toIntentView(intent);
  const structured = { status: intent.status, intentId: intent.id, settled: isSettled(intent), intent: view };
  if (intent.status === 'rejected' && !waited) {
    return result(
      summary(intent),
      { code: 'policy_denied', message: API_ERRORS.policy_denied.message, ...structured },
      true,
    );
  }
  if (intent.status === 'failed' && intent.error && isApiErrorCode(intent.error.code) && !waited) {
    const code = intent.error.code;
    const message = API_ERRORS[code].status >= 500 ? API_ERRORS[code].message : intent.error.message;
    return result(summary(intent), { code, message, ...structured }, true);
  }
  return result(summary(intent), structured);
}
