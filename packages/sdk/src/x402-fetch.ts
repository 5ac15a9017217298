import { createHash, randomUUID } from 'node:crypto';
import { x402NetworkChainId, type IntentView } from '@clawd402/protocol';
import { Clawd402ClientError } from './errors.ts';

/** The largest x402 header the SDK decodes (base64 of the requirements or the settlement). */
const MAX_X402_HEADER_CHARS = 64 * 1024;

/** One payment requirement of a 402, as the resource server sent it (echoed back unchanged as `accepted`). */
export type X402Requirement = Record<string, unknown> & { scheme: string; network: string };

/** A `402 Payment Required` answer, decoded (v2 from the `PAYMENT-REQUIRED` header, v1 from the body). */
export interface X402PaymentRequired {
  x402Version: 1 | 2;
  accepts: X402Requirement[];
  resource?: unknown;
  error?: string;
}

/** The settlement a resource server reports (`PAYMENT-RESPONSE`, v1 `X-PAYMENT-RESPONSE`), decoded. */
export interface X402Settlement {
  success: boolean;
  transaction?: string;
  network?: string;
  payer?: string;
  errorReason?: string;
  [key: string]: unknown;
}

/** What a paying fetch needs from the client: its chain and a way to ask the gateway for an x402 payment. */
export interface X402Payer {
  readonly chainId: number | undefined;
  payX402(request: {
    chainId: number;
    resource: string;
    x402Version: 1 | 2;
    requirements: X402Requirement;
    idempotencyKey: string;
  }): Promise<IntentView>;
}

export interface PayingFetchOptions {
  /** Chains the gateway may pay on (default: the client's chain). */
  chainIds?: readonly number[];
  /**
   * Identifies the request for payment: the same id and the same requirements answer the same authorisation (the
   * gateway's Idempotency-Key), so a retried request never pays twice. Default: a fresh id per call.
   */
  paymentId?: string;
  /**
   * The most one call may pay, in base units of the token as the 402 states amounts (USDC has 6 decimals: `10000n` is
   * 0.01 USDC). A 402 whose cheapest acceptable requirement asks more is refused with `x402_amount_above_max` before
   * the gateway is asked. The operator's policy and budgets apply either way.
   */
  maxAmount?: bigint | string;
}

function decodeBase64Json(value: string, what: string): unknown {
  if (value.length > MAX_X402_HEADER_CHARS) {
    throw new Clawd402ClientError('x402_requirements_too_large', { message: `The ${what} header is too large.` });
  }
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch (cause) {
    throw new Clawd402ClientError('x402_requirements_malformed', {
      message: `The ${what} header is not base64 JSON.`,
      cause,
    });
  }
}

/** Decode a 402 answer: v2's `PAYMENT-REQUIRED` header, or a v1 JSON body. */
export async function readPaymentRequired(response: Response): Promise<X402PaymentRequired> {
  const header = response.headers.get('payment-required');
  let decoded: unknown;
  if (header !== null) {
    decoded = decodeBase64Json(header, 'PAYMENT-REQUIRED');
  } else {
    const text = await response.text();
    if (text.length > MAX_X402_HEADER_CHARS) {
      throw new Clawd402ClientError('x402_requirements_too_large', { message: 'The 402 body is too large.' });
    }
    try {
      decoded = JSON.parse(text);
    } catch (cause) {
      throw new Clawd402ClientError('x402_requirements_malformed', {
        message: 'The 402 answer carries neither a PAYMENT-REQUIRED header nor a JSON body.',
        cause,
      });
    }
  }
  const d = decoded as Partial<X402PaymentRequired> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    (d.x402Version !== 1 && d.x402Version !== 2) ||
    !Array.isArray(d.accepts) ||
    d.accepts.some((a) => typeof a !== 'object' || a === null || typeof a.scheme !== 'string')
  ) {
    throw new Clawd402ClientError('x402_requirements_malformed', {
      message: 'The 402 answer is not an x402 payment-required object.',
    });
  }
  return d as X402PaymentRequired;
}

/** The settlement the resource server reported on this response, or null when it reported none. */
export function readSettlement(response: Response): X402Settlement | null {
  const header = response.headers.get('payment-response') ?? response.headers.get('x-payment-response');
  if (header === null) return null;
  return decodeBase64Json(header, 'PAYMENT-RESPONSE') as X402Settlement;
}

/** The cheapest `exact` requirement on a chain the gateway may pay on, with its amount; null when none fits. */
export function selectRequirement(
  required: X402PaymentRequired,
  chainIds: readonly number[],
): { requirement: X402Requirement; chainId: number; amount: bigint } | null {
  const amountOf = (r: X402Requirement): bigint => {
    const raw = required.x402Version === 1 ? r.maxAmountRequired : r.amount;
    return typeof raw === 'string' && /^[0-9]{1,78}$/.test(raw) ? BigInt(raw) : -1n;
  };
  const fits = required.accepts
    .map((requirement) => ({
      requirement,
      chainId: x402NetworkChainId(requirement.network),
      amount: amountOf(requirement),
    }))
    .filter(
      (c): c is { requirement: X402Requirement; chainId: number; amount: bigint } =>
        c.requirement.scheme === 'exact' && c.chainId !== undefined && chainIds.includes(c.chainId) && c.amount > 0n,
    )
    .sort((a, b) => (a.amount < b.amount ? -1 : 1));
  return fits[0] ?? null;
}

function maxAmountOf(value: bigint | string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'bigint' ? value >= 0n : /^[0-9]{1,78}$/.test(value)) return BigInt(value);
  throw new Clawd402ClientError('invalid_option', {
    message: 'maxAmount must be a non-negative integer of base units.',
  });
}

/**
 * `fetch`, paying x402 resources through the gateway (docs/x402.md): on `402 Payment Required` it decodes the
 * requirements (v2 `PAYMENT-REQUIRED`, or a v1 body), picks the cheapest `exact` one on a chain the gateway may pay
 * on, asks the gateway for the payment (an `x402_payment` intent, decided by the operator's policy and budgets), and
 * sends the request once more with the payment header (`PAYMENT-SIGNATURE`, v1 `X-PAYMENT`). At most one payment
 * per call: a second 402 is answered as it is; never more than `options.maxAmount`. {@link readSettlement} decodes
 * what the server reports.
 */
export async function payingFetch(
  payer: X402Payer,
  fetchImpl: typeof fetch,
  input: string | URL | Request,
  init: RequestInit | undefined,
  options: PayingFetchOptions = {},
): Promise<Response> {
  const maxAmount = maxAmountOf(options.maxAmount);
  const request = new Request(input, init);
  const first = await fetchImpl(request.clone());
  if (first.status !== 402) return first;
  const required = await readPaymentRequired(first);
  const chainIds = options.chainIds ?? (payer.chainId !== undefined ? [payer.chainId] : []);
  const chosen = selectRequirement(required, chainIds);
  if (!chosen) {
    throw new Clawd402ClientError('x402_no_acceptable_requirement', {
      details: { accepts: required.accepts.map((a) => ({ scheme: a.scheme, network: a.network })) },
    });
  }
  if (maxAmount !== undefined && chosen.amount > maxAmount) {
    throw new Clawd402ClientError('x402_amount_above_max', {
      details: {
        amount: chosen.amount.toString(),
        maxAmount: maxAmount.toString(),
        network: chosen.requirement.network,
      },
    });
  }
  const paymentId = options.paymentId ?? randomUUID();
  const idempotencyKey = `x402-${createHash('sha256')
    .update(`${paymentId}\n${request.method}\n${request.url}\n${JSON.stringify(chosen.requirement)}`)
    .digest('hex')
    .slice(0, 48)}`;
  const intent = await payer.payX402({
    chainId: chosen.chainId,
    resource: request.url,
    x402Version: required.x402Version,
    requirements: chosen.requirement,
    idempotencyKey,
  });
  const signature = intent.signing?.signature;
  if (!intent.x402 || !signature) {
    throw new Clawd402ClientError(intent.error?.code ?? 'policy_denied', {
      message: intent.error?.message ?? `The payment ended ${intent.status}; nothing was paid.`,
      intent,
    });
  }
  const payload = { authorization: intent.x402.authorization, signature };
  const paymentPayload =
    required.x402Version === 2
      ? {
          x402Version: 2,
          ...(required.resource !== undefined ? { resource: required.resource } : {}),
          accepted: chosen.requirement,
          payload,
        }
      : { x402Version: 1, scheme: chosen.requirement.scheme, network: chosen.requirement.network, payload };
  const encoded = Buffer.from(JSON.stringify(paymentPayload), 'utf8').toString('base64');
  const retry = request.clone();
  retry.headers.set(required.x402Version === 2 ? 'PAYMENT-SIGNATURE' : 'X-PAYMENT', encoded);
  return fetchImpl(retry);
}
