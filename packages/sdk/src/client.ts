import { randomUUID } from 'node:crypto';
import type { BudgetView, Decision, IntentStatus, IntentView, SimulationView } from '@clawd402/protocol';
import { Clawd402ClientError } from './errors.ts';
import { parseInstruction, type AssetRegistry, type ParsedInstruction } from './instruction.ts';
import { toIntentBody, type ActionRequest, type ExecuteCommon } from './requests.ts';
import { Transport } from './transport.ts';
import { waitForIntents } from './wait.ts';
import { payingFetch, type PayingFetchOptions, type X402Payer } from './x402-fetch.ts';

/** Chain ids of the networks the client knows by name (`network`); any other chain is given by `chainId`. */
export const NETWORKS: Readonly<Record<string, number>> = {
  mainnet: 1,
  ethereum: 1,
  sepolia: 11155111,
  holesky: 17000,
  base: 8453,
  'base-sepolia': 84532,
  optimism: 10,
  arbitrum: 42161,
  polygon: 137,
  anvil: 31337,
};

export interface Clawd402ClientOptions {
  /** The gateway's base URL, e.g. `https://gateway.example.org`. */
  apiUrl: string;
  /** The agent's API key, exchanged for short-lived tokens at `POST /auth/token` (renewed before they expire). */
  apiKey?: string;
  /** Or a function answering a current access token (the caller renews it). */
  getToken?: () => string | Promise<string>;
  /** The chain intents go to unless a request says otherwise. */
  chainId?: number;
  /** Or a network name from {@link NETWORKS}. */
  network?: string;
  /**
   * The gateway sends intents worth at least its `PRIVATE_RELAY_MIN_VALUE_USD` through the chain's private relay, and
   * never falls back to the public mempool (docs/submission.md). That routing is the operator's; `true` (or leaving it
   * out) relies on it. `false` is refused: an intent cannot opt out of protection.
   */
  mevProtection?: boolean;
  /** Per-attempt timeout of a request (default 30 s). */
  timeoutMs?: number;
  /** Further attempts for requests that are safe to repeat (default 3). */
  retries?: number;
  /** The longest Retry-After the client waits out before giving up with the gateway's error (default 60 s). */
  maxRetryAfterMs?: number;
  /**
   * Plain HTTP is refused except to a loopback address, so neither the API key nor tokens cross a network in the
   * clear. `allowInsecureHttp` lifts that (a trusted private network). For a private CA, start Node with
   * `NODE_EXTRA_CA_CERTS=/path/ca.pem`, or pass a `fetch` bound to your own dispatcher.
   */
  tls?: { allowInsecureHttp?: boolean };
  /** Symbols the agent may name in instructions (the operator's asset registry); `ETH` is the native asset. */
  assets?: AssetRegistry;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/** What `execute` answers: the intent as the gateway recorded it, and the parts agents read most. */
export interface ExecuteResult {
  intent: IntentView;
  status: IntentStatus;
  txHash: string | null;
  /** What simulating the transaction showed before the decision (null for signatures). */
  simulationResult: SimulationView | null;
  decision: Decision | null;
  /** What is left of each budget after this intent (`decision.money.budgets`). */
  budget: BudgetView[];
  /** A signature intent's signature, once signed. */
  signature: string | null;
  /** The request that was sent (the parsed instruction, for `{ instruction }`). */
  request: ActionRequest;
}

export type ExecuteInput = ActionRequest | ({ instruction: string; assets?: AssetRegistry } & ExecuteCommon);

export interface WaitOptions {
  /** How long to wait in all (default 120 s); then `wait_timeout`. */
  timeoutMs?: number;
  /** Statuses to wait for (default: the intent's end). */
  until?: readonly IntentStatus[];
}

/** Statuses an intent may still leave; every other is its end (and a signature intent's `signed` is final too). */
const IN_FLIGHT: readonly IntentStatus[] = ['received', 'pending_approval', 'approved', 'signed', 'submitted'];
/** Where an intent succeeded. */
const SUCCEEDED: readonly IntentStatus[] = ['confirmed', 'signed'];

/** True once `intent` will change no more. */
export function isFinal(intent: IntentView): boolean {
  return !IN_FLIGHT.includes(intent.status) || (intent.status === 'signed' && intent.signing !== undefined);
}

/**
 * A client for one agent of a Clawd402 gateway. It holds the agent's API key (or a token source), never a private
 * key: every signature is made by the gateway's signer, under the operator's policy.
 *
 * @example
 * const client = new Clawd402Client({ apiUrl: 'http://127.0.0.1:8402', apiKey: process.env.CLAWD402_API_KEY, network: 'anvil' })
 * const { txHash } = await client.execute({ action: 'transfer', to: '0x7099…79C8', amount: '0.01', wait: true })
 */
export class Clawd402Client {
  readonly chainId: number | undefined;
  private readonly transport: Transport;
  private readonly assets: AssetRegistry;
  private readonly resourceFetch: typeof fetch;

  constructor(options: Clawd402ClientOptions) {
    const url = parseUrl(options.apiUrl);
    if (url.protocol === 'http:' && !isLoopback(url.hostname) && options.tls?.allowInsecureHttp !== true) {
      throw new Clawd402ClientError('invalid_option', {
        message:
          'apiUrl is plain HTTP to a non-loopback host; use https (or tls.allowInsecureHttp on a trusted network).',
      });
    }
    if (options.mevProtection === false) {
      throw new Clawd402ClientError('invalid_option', {
        message:
          'mevProtection cannot be turned off: the gateway routes valuable intents through the private relay it is ' +
          'configured with (docs/submission.md).',
      });
    }
    if (options.network !== undefined && !Object.hasOwn(NETWORKS, options.network)) {
      throw new Clawd402ClientError('invalid_option', {
        message: `Unknown network ${options.network}; give chainId instead.`,
        details: { networks: Object.keys(NETWORKS) },
      });
    }
    const byName = options.network !== undefined ? NETWORKS[options.network] : undefined;
    if (byName !== undefined && options.chainId !== undefined && byName !== options.chainId) {
      throw new Clawd402ClientError('invalid_option', { message: 'chainId and network name different chains.' });
    }
    this.chainId = options.chainId ?? byName;
    this.assets = options.assets ?? {};
    this.resourceFetch = options.fetch ?? globalThis.fetch;
    this.transport = new Transport({
      apiUrl: url.toString(),
      ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      ...(options.getToken !== undefined ? { getToken: options.getToken } : {}),
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 3,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      fetch: options.fetch ?? globalThis.fetch,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
  }

  /**
   * Submit one intent (`POST /v1/intents`) with an `Idempotency-Key` (retried safely on network failures, 5xx and
   * 429), or turn an `instruction` into one first ({@link parseInstruction}). A refusal throws
   * {@link Clawd402ClientError} with the gateway's code, the policy's reasons and the budgets left.
   */
  async execute(input: ExecuteInput): Promise<ExecuteResult> {
    const request = 'instruction' in input ? this.fromInstruction(input) : input;
    const body = toIntentBody(request, this.chainFor(request));
    const { body: created } = await this.transport.request<IntentView>('POST', '/v1/intents', {
      body,
      idempotencyKey: request.idempotencyKey ?? randomUUID(),
    });
    let intent = created;
    if (request.wait !== undefined && request.wait !== false && !isFinal(intent)) {
      intent = (await this.wait(intent.id, typeof request.wait === 'number' ? { timeoutMs: request.wait } : {}))[0]!;
    }
    if (isFinal(intent) && !SUCCEEDED.includes(intent.status)) {
      throw new Clawd402ClientError(
        intent.error?.code ?? (intent.status === 'rejected' ? 'policy_denied' : 'http_error'),
        {
          message: intent.error?.message ?? `The intent ended ${intent.status}.`,
          intent,
        },
      );
    }
    return {
      intent,
      status: intent.status,
      txHash: intent.txHash,
      simulationResult: intent.simulation ?? null,
      decision: intent.decision,
      budget: intent.decision?.money?.budgets ?? [],
      signature: intent.signing?.signature ?? null,
      request,
    };
  }

  /** The request an instruction turns into, to show back before executing it; refuses anything unclear. */
  parseInstruction(instruction: string, options: { assets?: AssetRegistry } = {}): ParsedInstruction {
    return parseInstruction(instruction, { assets: { ...this.assets, ...options.assets } });
  }

  /** One of the agent's intents (`GET /v1/intents/:id`). */
  async intent(id: string): Promise<IntentView> {
    return (await this.transport.request<IntentView>('GET', `/v1/intents/${encodeURIComponent(id)}`)).body;
  }

  /**
   * Wait until each intent ends (or reaches one of `until`), by long-polling the gateway; answers them in the order
   * asked. Throws `wait_timeout` (with the intents as last seen in `details.intents`) when time runs out.
   */
  async wait(ids: string | readonly string[], options: WaitOptions = {}): Promise<IntentView[]> {
    const list = typeof ids === 'string' ? [ids] : [...ids];
    const until = options.until;
    return waitForIntents(this.transport, list, {
      timeoutMs: options.timeoutMs ?? 120_000,
      done: (intent) => (until ? until.includes(intent.status) : isFinal(intent)),
      settled: until === undefined,
    });
  }

  /**
   * The agent's current bearer token (exchanged from the API key and renewed before it expires, or the `getToken`
   * one), for other channels to the same gateway that this client does not speak itself (the MCP bridge, docs/mcp.md).
   */
  bearerToken(): Promise<string> {
    return this.transport.bearerToken();
  }

  /**
   * `fetch` that pays x402 resources through the gateway ({@link payingFetch}, docs/x402.md): on `402 Payment Required`
   * the gateway pays under the operator's policy and budgets, and the request is sent once more with the payment.
   * Never pays twice for one call; `readSettlement(response)` decodes the settlement the server reports.
   */
  fetch(input: string | URL | Request, init?: RequestInit, options?: PayingFetchOptions): Promise<Response> {
    return payingFetch(this, this.resourceFetch, input, init, options);
  }

  /** Wrap a `fetch` so that it pays x402 resources through the gateway, like {@link Clawd402Client.fetch}. */
  wrapFetch(fetchImpl: typeof fetch = globalThis.fetch, options?: PayingFetchOptions): typeof fetch {
    return (input: string | URL | Request, init?: RequestInit) => payingFetch(this, fetchImpl, input, init, options);
  }

  /** Ask the gateway to pay one x402 requirement (an `x402_payment` intent); answers the signed intent. */
  async payX402(request: Parameters<X402Payer['payX402']>[0]): Promise<IntentView> {
    const { idempotencyKey, ...body } = request;
    const { body: intent } = await this.transport.request<IntentView>('POST', '/v1/intents', {
      body: { type: 'x402_payment', ...body },
      idempotencyKey,
    });
    // A retry racing the first request may answer the intent before it is signed: wait for the signature.
    if (intent.status === 'approved') {
      return (
        await this.wait(intent.id, {
          until: ['signed', 'confirmed', 'expired', 'failed', 'rejected'],
          timeoutMs: 30_000,
        })
      )[0]!;
    }
    return intent;
  }

  /** What is left of each spend limit the agent's intents count against (`GET /v1/budget`). */
  async budget(): Promise<BudgetView[]> {
    return (await this.transport.request<{ budgets: BudgetView[] }>('GET', '/v1/budget')).body.budgets;
  }

  private fromInstruction(input: { instruction: string; assets?: AssetRegistry } & ExecuteCommon): ActionRequest {
    const { instruction, assets, ...common } = input;
    const { approve: _shownOnly, ...parsed } = this.parseInstruction(instruction, { assets }) as ParsedInstruction & {
      approve?: unknown;
    };
    const request: ActionRequest = { ...parsed, ...common };
    return request;
  }

  private chainFor(request: ActionRequest): number {
    const chainId = request.chainId ?? this.chainId;
    if (chainId === undefined) {
      throw new Clawd402ClientError('invalid_option', {
        message: 'Give the client a chainId or network, or the request a chainId.',
      });
    }
    return chainId;
  }
}

function parseUrl(text: string): URL {
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    if (url.username || url.password) throw new Error('credentials in URL');
    return url;
  } catch (cause) {
    throw new Clawd402ClientError('invalid_option', {
      message: 'apiUrl must be an http(s) URL without credentials.',
      cause,
    });
  }
}

/** True for a URL hostname that names this machine: `localhost`, `127.0.0.0/8` or `[::1]` (as `URL` writes them). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}
