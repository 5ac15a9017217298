import { Ajv } from 'ajv';
import {
  Clawd402ClientError,
  isLoopback,
  payingFetch,
  readSettlement,
  type Clawd402Client,
  type IntentView,
  type X402Settlement,
} from '@clawd402/sdk';

/**
 * The bridge's own refusals (docs/mcp.md). Every other refusal of `fetch_paid` carries the gateway's code
 * (docs/errors.md: `policy_denied`, `x402_payee_changed`, …) or the SDK's (`x402_no_acceptable_requirement`,
 * `x402_amount_above_max`).
 */
export const FETCH_PAID_ERRORS = {
  invalid_request: 'The arguments do not fit the tool schema (details.field); nothing was requested.',
  unknown_field: 'An argument the tool does not take (details.field); nothing was requested.',
  fetch_url_refused:
    'The URL is not https, or is plain http to a host other than this machine, or carries credentials; nothing was requested.',
  fetch_failed: 'The resource could not be reached, or did not answer in time; `payment` says whether one was made.',
} as const;
export type FetchPaidErrorCode = keyof typeof FETCH_PAID_ERRORS;

/** The most of a response body the tool answers; the rest is cut off and `truncated` says so. */
export const MAX_RESPONSE_BODY_BYTES = 256 * 1024;
/** How long each request to the resource may take, its body included. */
const RESOURCE_TIMEOUT_MS = 30_000;
/** Response headers the tool answers (the rest are left out: cookies, server details). */
const ANSWERED_HEADERS = [
  'content-type',
  'content-length',
  'content-language',
  'cache-control',
  'etag',
  'last-modified',
  'location',
  'retry-after',
] as const;
const TEXT_TYPE = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded)\b)/i;

const INPUT_SCHEMA = {
  type: 'object',
  properties: {
    url: {
      type: 'string',
      minLength: 1,
      maxLength: 2048,
      description: 'The resource: an https URL (plain http only to this machine: localhost, 127.x.x.x, [::1]).',
    },
    method: { type: 'string', enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], description: 'Default GET.' },
    headers: {
      type: 'object',
      maxProperties: 32,
      additionalProperties: { type: 'string', maxLength: 8192 },
      description: 'Request headers, name to value.',
    },
    body: { type: 'string', maxLength: 65_536, description: 'The request body (not with GET or HEAD).' },
    maxAmount: {
      type: 'string',
      pattern: '^[0-9]{1,78}$',
      description:
        'The most to pay for this request, in base units of the token as the 402 states amounts (USDC has 6 ' +
        'decimals: "10000" is 0.01 USDC). A higher price is refused before anything is signed.',
    },
  },
  required: ['url'],
  additionalProperties: false,
} as const;

/** `fetch_paid` as `tools/list` answers it (only the stdio bridge offers it; docs/mcp.md says why). */
export const FETCH_PAID_TOOL = {
  name: 'fetch_paid',
  description:
    'Fetch a URL, paying it through the gateway if it answers 402 Payment Required (x402, exact scheme): the ' +
    "operator's policy and budgets decide the payment, and at most one payment is made. Answers the status, a few " +
    'headers, the body (cut at 256 KiB, `truncated` says so) and the payment made, if any. Redirects are answered, ' +
    'not followed.',
  inputSchema: INPUT_SCHEMA,
};

interface FetchPaidArguments {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  maxAmount?: string;
}

/** A tool answer as MCP carries it: a sentence with the JSON, and the JSON structured. */
export interface FetchPaidResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  structuredContent: Record<string, unknown>;
  isError?: boolean;
}

/** The payment a call made: the gateway's intent and what it paid. */
interface PaymentView {
  intentId: string;
  status: string;
  amount: string;
  asset: string;
  payee: string;
  network: string;
  settlement: X402Settlement | null;
}

class FetchPaidError extends Error {
  constructor(
    readonly code: FetchPaidErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const validate = new Ajv({ strict: false, allErrors: false }).compile(INPUT_SCHEMA);

/** The URL `fetch_paid` may request: https, or plain http to this machine, without credentials. */
export function checkFetchUrl(raw: string): URL {
  if (!URL.canParse(raw)) throw new FetchPaidError('fetch_url_refused', 'url is not an absolute URL.');
  const url = new URL(raw);
  if (url.username !== '' || url.password !== '') {
    throw new FetchPaidError('fetch_url_refused', 'url must not carry credentials.');
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))) return url;
  throw new FetchPaidError(
    'fetch_url_refused',
    url.protocol === 'http:'
      ? 'Plain http is refused except to this machine (localhost, 127.x.x.x, [::1]); use https.'
      : 'url must be https.',
    { protocol: url.protocol },
  );
}

/** A tool answer of the gateway's MCP endpoint, as the MCP SDK's client answers it. */
export interface GatewayToolAnswer {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
}

/**
 * The payer `fetch_paid` uses: the gateway's MCP tool `pay_x402`, over the bridge's own connection to `POST /mcp`, so
 * the payment's origin is `mcp`, tool `pay_x402`, with the MCP client's name. While a retried payment's first request
 * is still being signed (`approved`), it waits with `wait_intent`. A refusal becomes the SDK's error with the
 * gateway's code, message, details and intent (so `reasons` come with a policy denial).
 */
export function payThroughGatewayTool(
  callTool: (name: string, args: Record<string, unknown>) => Promise<GatewayToolAnswer>,
): Pick<Clawd402Client, 'payX402'> {
  return {
    async payX402({ idempotencyKey, ...body }) {
      let answer = await callTool('pay_x402', { ...body, idempotencyKey });
      for (
        let waits = 0;
        !answer.isError && answer.structuredContent?.['status'] === 'approved' && waits < 2;
        waits++
      ) {
        answer = await callTool('wait_intent', { id: answer.structuredContent['intentId'], timeoutSeconds: 30 });
      }
      const out = answer.structuredContent ?? {};
      const intent = out['intent'] as IntentView | undefined;
      if (answer.isError || !intent) {
        throw new Clawd402ClientError(typeof out['code'] === 'string' ? out['code'] : 'fetch_failed', {
          ...(typeof out['message'] === 'string' ? { message: out['message'] } : {}),
          ...(out['details'] ? { details: out['details'] as Record<string, unknown> } : {}),
          ...(intent ? { intent } : {}),
        });
      }
      return intent;
    },
  };
}

/**
 * `fetch_paid`: the bridge fetches the URL itself, beside the agent, and pays a 402 through the gateway with the
 * SDK's paying fetch (`payingFetch`). The payer is the gateway's MCP tool `pay_x402` (mcp.ts), so the payment is an
 * `x402_payment` intent under the operator's policy and budgets whose origin is `mcp`, tool `pay_x402`, and the
 * client's name. The gateway never requests the URL. Never throws: a refusal is a result with `isError` and a stable
 * code.
 */
export async function fetchPaid(
  gateway: Pick<Clawd402Client, 'payX402'>,
  chainIds: readonly number[],
  args: unknown,
): Promise<FetchPaidResult> {
  let payment: IntentView | null = null;
  try {
    const input = checkArguments(args ?? {});
    const url = checkFetchUrl(input.url);
    let request: Request;
    try {
      request = new Request(url, {
        method: input.method ?? 'GET',
        headers: input.headers ?? {},
        ...(input.body !== undefined ? { body: input.body } : {}),
        redirect: 'manual',
      });
    } catch (error) {
      throw new FetchPaidError('invalid_request', `The request cannot be made: ${(error as Error).message}`);
    }
    const timeout = AbortSignal.timeout(RESOURCE_TIMEOUT_MS);
    const resourceFetch: typeof fetch = async (resource, init) => {
      try {
        return await fetch(resource, { ...init, signal: timeout });
      } catch (cause) {
        throw new FetchPaidError('fetch_failed', `The resource did not answer: ${reason(cause)}.`);
      }
    };
    const payer = {
      chainId: undefined,
      payX402: async (asked: Parameters<Clawd402Client['payX402']>[0]) => (payment = await gateway.payX402(asked)),
    };
    const response = await payingFetch(payer, resourceFetch, request, undefined, {
      chainIds,
      ...(input.maxAmount !== undefined ? { maxAmount: input.maxAmount } : {}),
    });
    const { body, truncated } = await readBounded(response).catch((cause: unknown) => {
      throw new FetchPaidError('fetch_failed', `The response body could not be read: ${reason(cause)}.`);
    });
    const headers = Object.fromEntries(
      ANSWERED_HEADERS.flatMap((name) => {
        const value = response.headers.get(name);
        return value === null ? [] : [[name, value]];
      }),
    );
    const text = TEXT_TYPE.test(response.headers.get('content-type') ?? 'text/plain');
    const paid = paymentView(payment, response);
    const structured = {
      status: response.status,
      headers,
      body: text ? new TextDecoder().decode(body) : Buffer.from(body).toString('base64'),
      bodyEncoding: text ? 'utf8' : 'base64',
      truncated,
      payment: paid,
    };
    const sentence =
      `${request.method} ${url.href} answered ${response.status}` +
      (paid ? `; paid ${paid.amount} base units of ${paid.asset} to ${paid.payee} (intent ${paid.intentId})` : '') +
      (truncated ? `; the body is cut at ${MAX_RESPONSE_BODY_BYTES} bytes` : '') +
      '.';
    return answer(sentence, structured);
  } catch (error) {
    return refusal(error, paymentView(payment, null));
  }
}

function checkArguments(args: unknown): FetchPaidArguments {
  if (validate(args)) return args;
  const issue = validate.errors?.[0];
  const field = issue?.instancePath ? issue.instancePath.slice(1).replaceAll('/', '.') : undefined;
  if (issue?.keyword === 'additionalProperties' && !field) {
    const extra = String(issue.params['additionalProperty']);
    throw new FetchPaidError('unknown_field', `${extra} is not an argument of fetch_paid.`, { field: extra });
  }
  throw new FetchPaidError('invalid_request', `${field ?? 'arguments'} ${issue?.message ?? 'is invalid'}.`, {
    field: field ?? null,
  });
}

/** The body up to MAX_RESPONSE_BODY_BYTES; the rest is not read. */
async function readBounded(response: Response): Promise<{ body: Uint8Array; truncated: boolean }> {
  if (response.body === null) return { body: new Uint8Array(), truncated: false };
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { body: Buffer.concat(chunks), truncated: false };
    if (size + value.byteLength > MAX_RESPONSE_BODY_BYTES) {
      chunks.push(value.subarray(0, MAX_RESPONSE_BODY_BYTES - size));
      await reader.cancel().catch(() => {});
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(value);
    size += value.byteLength;
  }
}

/** The payment made, if the gateway signed one (a refused or unsigned intent paid nothing). */
function paymentView(intent: IntentView | null, response: Response | null): PaymentView | null {
  if (!intent?.x402 || !intent.signing?.signature) return null;
  return {
    intentId: intent.id,
    status: intent.status,
    amount: intent.x402.amount,
    asset: intent.x402.asset,
    payee: intent.x402.payee,
    network: intent.x402.network,
    settlement: response ? readSettlementOrNull(response) : null,
  };
}

function readSettlementOrNull(response: Response): X402Settlement | null {
  try {
    return readSettlement(response);
  } catch {
    return null; // a server's malformed report is not the agent's failure: the payment view still says what was paid
  }
}

function answer(text: string, structured: Record<string, unknown>, isError = false): FetchPaidResult {
  return {
    content: [{ type: 'text', text: `${text}\n\n${JSON.stringify(structured)}` }],
    structuredContent: structured,
    ...(isError ? { isError: true } : {}),
  };
}

/** A refusal with its stable code: the bridge's own, or the gateway's / SDK's as the SDK raised it. */
function refusal(error: unknown, payment: PaymentView | null): FetchPaidResult {
  let structured: Record<string, unknown>;
  if (error instanceof FetchPaidError) {
    structured = { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
  } else if (error instanceof Clawd402ClientError) {
    structured = {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      ...(error.intent ? { intentId: error.intent.id, intentStatus: error.intent.status } : {}),
      ...(error.reasons.length > 0 ? { reasons: error.reasons } : {}),
    };
  } else {
    structured = { code: 'fetch_failed', message: `fetch_paid failed: ${reason(error)}.` };
  }
  return answer(
    `Refused (${String(structured['code'])}): ${String(structured['message'])}`,
    {
      ...structured,
      payment,
    },
    true,
  );
}

function reason(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error.cause as { code?: unknown } | undefined)?.code;
    return error.name === 'TimeoutError' ? 'timed out' : typeof cause === 'string' ? cause : error.message;
  }
  return String(error);
}
