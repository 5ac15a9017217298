import type pg from 'pg';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { getAddress, isAddressEqual, toHex, type Address, type Hex } from 'viem';
import {
  API_ERRORS,
  Clawd402Error,
  ContractCallIntentBody,
  MessageIntentBody,
  TransferIntentBody,
  TypedDataIntentBody,
  type ApiErrorCode,
  type IntentBody,
  type RpcErrorCode,
} from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { AgentContext } from '../domain/agent.ts';
import type { IntentRecord } from '../domain/intent.ts';
import type { Logger } from '../domain/logger.ts';
import type { IntentPath } from '../intent-path/intent-path.ts';
import { readNextNonce } from '../repositories/nonces-repository.ts';
import type { IntentsService } from './intents-service.ts';
import { RPC_ORIGIN } from '../domain/origin.ts';
import {
  RpcFailure,
  intentFailure,
  rpcFailure,
  toRpcError,
  waitUrlOf,
  type JsonRpcErrorObject,
} from './json-rpc-errors.ts';
import { address, messageBody, quantity, transactionRequest, typedDataOf } from './json-rpc-params.ts';

/** Most requests one batch may hold; a larger batch is refused whole (`rpc_batch_too_large`). */
export const MAX_RPC_BATCH = 20;
/** Widest eth_getLogs block range forwarded (`rpc_range_too_large`). */
export const MAX_LOG_BLOCK_RANGE = 1_000n;
/** Largest body `POST /rpc` reads (a contract call's calldata may be up to 64 KiB). */
export const RPC_BODY_LIMIT = 512 * 1024;

export type JsonRpcId = string | number | null;
export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: JsonRpcErrorObject;
}

/** Read methods forwarded as they are to the chain's RPC pool (the gateway's ChainRegistry clients). */
const FORWARDED = new Set([
  'eth_call',
  'eth_estimateGas',
  'eth_getBalance',
  'eth_getTransactionReceipt',
  'eth_getTransactionByHash',
  'eth_blockNumber',
  'eth_getBlockByNumber',
  'eth_getBlockByHash',
  'eth_gasPrice',
  'eth_maxPriorityFeePerGas',
  'eth_feeHistory',
  'eth_getCode',
  'web3_clientVersion',
]);
/**
 * Refused methods that are attempts to get around the policy (sign a raw hash, a transaction signed elsewhere or to be
 * broadcast elsewhere, unguarded typed data): audited as `intent.refused` so the incident watch counts them
 * (`policy_bypass`, docs/incidents.md). Subscriptions, filters and `wallet_*` probes are refused without a trace.
 */
const BYPASS_METHODS = new Set([
  'eth_sendRawTransaction',
  'eth_sign',
  'eth_signTransaction',
  'eth_signTypedData',
  'eth_signTypedData_v1',
  'eth_signTypedData_v3',
]);
/**
 * Known methods that would go around the policy or that the gateway cannot answer honestly: a signed transaction
 * from elsewhere, a raw hash, a signed transaction handed out unbroadcast, older typed-data variants, EIP-5792 batches
 * (calls would not be decided as one), wallet and node administration. Refused with `rpc_method_refused`.
 */
const REFUSED = new Set([
  ...BYPASS_METHODS,
  'eth_sendUserOperation',
  'eth_subscribe',
  'eth_newFilter',
  'eth_newBlockFilter',
  'eth_newPendingTransactionFilter',
]);
const REFUSED_PREFIXES = [
  'wallet_',
  'personal_',
  'debug_',
  'trace_',
  'anvil_',
  'hardhat_',
  'evm_',
  'admin_',
  'miner_',
  'txpool_',
  'engine_',
];
const REQUEST_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);
const BLOCK_TAGS = new Set(['latest', 'safe', 'finalized', 'pending']);

interface Call {
  agent: AgentContext;
  chainId: number;
  signer: Address;
  params: readonly unknown[];
  /** The HTTP request's id, for the signer's log (docs/logging.md). */
  requestId: string | undefined;
}

export interface JsonRpcDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  pipeline: IntentPath;
  /** A refused wallet request leaves the trace a refused REST intent leaves (IntentsService.auditRefusal). */
  intents: Pick<IntentsService, 'auditRefusal'>;
  log: Logger;
}

/**
 * `POST /rpc` (docs/json-rpc.md): Ethereum JSON-RPC 2.0 for agents written against viem or ethers. Wallet methods
 * become intents through the whole intent path (IntentPath.submit) — eth_sendTransaction a `transfer` or
 * `contract_call`, personal_sign a `message`, eth_signTypedData_v4 `typed_data` — and answer only what the path
 * produced: a hash once signed and broadcast, a signature once signed. Reads from an allowlist go to the chain's RPC
 * pool; everything else is refused with a stable code. A batch is answered element by element, in order.
 */
export class JsonRpcService {
  private readonly validators: Record<'transfer' | 'contract_call' | 'message' | 'typed_data', ValidateFunction>;

  constructor(private readonly deps: JsonRpcDeps) {
    const ajv = new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: false, strict: false });
    addFormats.default(ajv);
    this.validators = {
      transfer: ajv.compile(TransferIntentBody),
      contract_call: ajv.compile(ContractCallIntentBody),
      message: ajv.compile(MessageIntentBody),
      typed_data: ajv.compile(TypedDataIntentBody),
    };
  }

  /**
   * The chain a request is for: `/rpc/:chainId` names it; plain `/rpc` is the gateway's only chain, and refused with
   * `chain_not_configured` when several are configured.
   */
  chainFor(param: string | undefined): number {
    const ids = this.deps.chains.chainIds;
    if (param === undefined) {
      if (ids.length === 1) return ids[0]!;
      throw new Clawd402Error('chain_not_configured', 'Several chains are configured: use /rpc/:chainId.', {
        details: { chainIds: ids },
      });
    }
    const chainId = /^[1-9][0-9]{0,15}$/.test(param) ? Number(param) : NaN;
    if (!Number.isSafeInteger(chainId) || !this.deps.chains.has(chainId))
      throw new Clawd402Error('chain_not_configured', undefined, { details: { field: 'chainId' } });
    return chainId;
  }

  /**
   * Answer a JSON-RPC body: one request, or a batch of at most {@link MAX_RPC_BATCH}. `requestId` (the HTTP request's)
   * goes to the signer's log for what this body signs.
   */
  async handle(
    agent: AgentContext,
    chainId: number,
    body: unknown,
    requestId?: string,
  ): Promise<JsonRpcResponse | JsonRpcResponse[]> {
    if (!Array.isArray(body)) return this.answer(agent, chainId, body, requestId);
    if (body.length === 0) return errorResponse(null, rpcFailure('rpc_invalid_request', 'The batch is empty.').error);
    if (body.length > MAX_RPC_BATCH) {
      return errorResponse(
        null,
        rpcFailure('rpc_batch_too_large', `A batch holds at most ${MAX_RPC_BATCH} requests.`, {
          maxBatch: MAX_RPC_BATCH,
          received: body.length,
        }).error,
      );
    }
    const answers: JsonRpcResponse[] = [];
    // In order, one after another: two transactions of one batch take consecutive nonces in the order sent.
    for (const element of body) answers.push(await this.answer(agent, chainId, element, requestId));
    return answers;
  }

  private async answer(
    agent: AgentContext,
    chainId: number,
    request: unknown,
    requestId: string | undefined,
  ): Promise<JsonRpcResponse> {
    const id = idOf(request);
    try {
      const { method, params } = parseRequest(request);
      const signer = getAddress(agent.signerAddress);
      const result = await this.dispatch(method, { agent, chainId, signer, params, requestId });
      return { jsonrpc: '2.0', id, result };
    } catch (error) {
      if (!(error instanceof RpcFailure) && !(error instanceof Clawd402Error && error.statusCode < 500))
        this.deps.log.error({ err: error }, 'json-rpc request failed');
      return errorResponse(id, toRpcError(error));
    }
  }

  private async dispatch(method: string, call: Call): Promise<unknown> {
    const { chains } = call.agent.scopes;
    if (chains && !chains.includes(call.chainId))
      throw new Clawd402Error('key_scope_denied', undefined, { details: { chainId: call.chainId } });
    switch (method) {
      case 'eth_chainId':
        return toHex(call.chainId);
      case 'net_version':
        return String(call.chainId);
      case 'eth_accounts':
      case 'eth_requestAccounts':
        return [call.signer];
      case 'eth_sendTransaction':
        return this.refusalsAudited(call.agent, () => this.sendTransaction(call));
      case 'personal_sign':
        return this.refusalsAudited(call.agent, () =>
          this.signature(call, messageBody(call.params, call.chainId, call.signer)),
        );
      case 'eth_signTypedData_v4':
        return this.refusalsAudited(call.agent, () =>
          this.signature(call, {
            type: 'typed_data',
            chainId: call.chainId,
            typedData: typedDataOf(call.params, call.signer),
          } as IntentBody),
        );
      case 'eth_getTransactionCount':
        return this.transactionCount(call);
      case 'eth_getLogs':
        return this.logs(call);
      default:
        break;
    }
    if (FORWARDED.has(method)) return this.forward(call.chainId, method, call.params);
    if (REFUSED.has(method) || REFUSED_PREFIXES.some((prefix) => method.startsWith(prefix))) {
      if (BYPASS_METHODS.has(method)) await this.auditRefusal(call.agent, 'rpc_method_refused', { method });
      throw rpcFailure('rpc_method_refused', undefined, { method });
    }
    throw rpcFailure('rpc_method_not_found', undefined, { method: method.slice(0, 100) });
  }

  private async sendTransaction(call: Call): Promise<Hex> {
    const { body, gas, tx } = transactionRequest(call.params, call.chainId, call.signer);
    this.validate(body);
    if (gas !== null) {
      // The agent's gas is a ceiling: a transaction the chain says needs more is refused before it is decided.
      const needed = await this.deps.chains.estimateGas(call.chainId, { from: call.signer, ...tx });
      if (needed > gas) {
        throw new Clawd402Error(
          'gas_limit_exceeded',
          `The transaction needs ${needed} gas; the request allows ${gas}.`,
          {
            details: { field: 'gas', gas: gas.toString(), needed: needed.toString() },
          },
        );
      }
    }
    const { intent } = await this.deps.pipeline.submit(call.agent, body, null, RPC_ORIGIN, call.requestId);
    return transactionHashOf(intent);
  }

  private async signature(call: Call, body: IntentBody): Promise<Hex> {
    this.validate(body);
    const { intent } = await this.deps.pipeline.submit(call.agent, body, null, RPC_ORIGIN, call.requestId);
    const signature = intent.status === 'signed' ? intent.signing?.signature : null;
    if (signature) return signature as Hex;
    throw intentFailure(intent) ?? new Clawd402Error('internal_error');
  }

  /** `pending` for the agent's own address: the larger of the chain's count and what the nonce allocator handed out. */
  private async transactionCount(call: Call): Promise<unknown> {
    const [who, tag] = call.params;
    if (tag === 'pending' && isAddressEqual(address(who, 'address'), call.signer)) {
      const [chainPending, allocated] = await Promise.all([
        this.deps.chains.pendingNonce(call.chainId, call.signer),
        readNextNonce(this.deps.pool, call.chainId, call.signer),
      ]);
      return toHex(Math.max(chainPending, allocated ?? 0));
    }
    return this.forward(call.chainId, 'eth_getTransactionCount', call.params);
  }

  /** eth_getLogs over at most {@link MAX_LOG_BLOCK_RANGE} blocks (or one block by hash). */
  private async logs(call: Call): Promise<unknown> {
    const filter = call.params[0];
    if (call.params.length !== 1 || typeof filter !== 'object' || filter === null || Array.isArray(filter))
      throw rpcFailure('rpc_invalid_params', 'eth_getLogs takes one filter object.');
    const { fromBlock, toBlock, blockHash } = filter as Record<string, unknown>;
    if (blockHash === undefined) {
      const head = async (): Promise<bigint> =>
        BigInt((await this.forward(call.chainId, 'eth_blockNumber', [])) as Hex);
      const at = async (tag: unknown, field: string): Promise<bigint> =>
        tag === undefined || BLOCK_TAGS.has(tag as string) ? head() : tag === 'earliest' ? 0n : quantity(tag, field);
      const [from, to] = await Promise.all([at(fromBlock, 'fromBlock'), at(toBlock, 'toBlock')]);
      if (to >= from && to - from + 1n > MAX_LOG_BLOCK_RANGE)
        throw rpcFailure('rpc_range_too_large', undefined, { maxBlocks: Number(MAX_LOG_BLOCK_RANGE) });
    }
    return this.forward(call.chainId, 'eth_getLogs', call.params);
  }

  private async forward(chainId: number, method: string, params: readonly unknown[]): Promise<unknown> {
    try {
      return await this.deps.chains.client(chainId).request({ method, params } as never);
    } catch (error) {
      throw upstreamFailure(error, chainId);
    }
  }

  private validate(body: IntentBody): void {
    const validate = this.validators[body.type as keyof typeof this.validators];
    if (validate(body)) return;
    const issue = validate.errors?.[0];
    const field = issue?.instancePath ? issue.instancePath.slice(1).replaceAll('/', '.') : undefined;
    throw rpcFailure('rpc_invalid_params', `${field ?? 'params'} ${issue?.message ?? 'is invalid'}.`, {
      ...(field ? { field } : {}),
    });
  }

  /** A 4xx refusal of a wallet request leaves one audit record naming the agent and the code, as REST's does. */
  private async refusalsAudited<T>(agent: AgentContext, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof Clawd402Error && API_ERRORS[error.code].status < 500)
        await this.auditRefusal(agent, error.code);
      // Signing for another chain than the endpoint's: a policy bypass attempt the incident watch counts.
      if (
        error instanceof RpcFailure &&
        (error.error.data as { code?: string } | undefined)?.code === 'rpc_chain_mismatch'
      )
        await this.auditRefusal(agent, 'rpc_chain_mismatch');
      throw error;
    }
  }

  /** Audit a refusal; a failure to is logged (the refusal stands either way). */
  private async auditRefusal(
    agent: AgentContext,
    code: ApiErrorCode | RpcErrorCode,
    extra: { method?: string } = {},
  ): Promise<void> {
    await this.deps.intents.auditRefusal(agent, code, extra).catch((auditError: unknown) => {
      this.deps.log.error({ err: auditError }, 'could not audit a refused request');
    });
  }
}

/**
 * The hash of a transaction the path signed and broadcast (submitted, confirmed, or mined and reverted); never one
 * that was not sent. Anything else is the element's error.
 */
function transactionHashOf(intent: IntentRecord): Hex {
  const sent =
    intent.status === 'submitted' ||
    intent.status === 'confirmed' ||
    (intent.status === 'failed' && intent.error?.code === 'transaction_reverted');
  if (sent && intent.txHash) return intent.txHash as Hex;
  const failure = intentFailure(intent);
  if (failure) throw failure;
  throw rpcFailure('transaction_not_broadcast', undefined, {
    intentId: intent.id,
    status: intent.status,
    wait: waitUrlOf(intent.id),
  });
}

function parseRequest(request: unknown): { method: string; params: readonly unknown[] } {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw rpcFailure('rpc_invalid_request', 'A request must be a JSON object.');
  const r = request as Record<string, unknown>;
  const extra = Object.keys(r).find((k) => !REQUEST_MEMBERS.has(k));
  if (extra !== undefined) throw rpcFailure('rpc_invalid_request', `Member "${extra}" is not accepted.`);
  if (r.jsonrpc !== '2.0') throw rpcFailure('rpc_invalid_request', 'jsonrpc must be "2.0".');
  if (!('id' in r) || idOf(r) !== r.id)
    throw rpcFailure(
      'rpc_invalid_request',
      'Every request needs an id (a string or number); notifications are not run.',
    );
  if (typeof r.method !== 'string' || r.method.length === 0 || r.method.length > 100)
    throw rpcFailure('rpc_invalid_request', 'method must be a string.');
  if (r.params !== undefined && !Array.isArray(r.params))
    throw rpcFailure('rpc_invalid_request', 'params must be an array (by-position parameters).');
  return { method: r.method, params: (r.params as unknown[] | undefined) ?? [] };
}

/** The request's id when it is a valid one (a string or number, or null), else null. */
function idOf(request: unknown): JsonRpcId {
  if (typeof request !== 'object' || request === null) return null;
  const id = (request as { id?: unknown }).id;
  if ((typeof id === 'string' && id.length <= 200) || (typeof id === 'number' && Number.isFinite(id))) return id;
  return null;
}

function errorResponse(id: JsonRpcId, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error };
}

/**
 * An error from the chain's RPC as the element's error: a JSON-RPC error the node answered keeps its number and its
 * message (at most 300 characters; URLs never appear, viem keeps them apart); a revert (code 3) carries the revert
 * data as `data`, as nodes do; anything else (no answer) is `chain_unavailable`.
 */
function upstreamFailure(error: unknown, chainId: number): RpcFailure | Clawd402Error {
  // The deepest error with a JSON-RPC code is the node's own error object (viem's RpcRequestError keeps it as cause).
  let answered: { code: number; text: unknown; data?: unknown } | null = null;
  for (let e: unknown = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth += 1) {
    const candidate = e as { code?: unknown; details?: unknown; message?: unknown; data?: unknown };
    if (typeof candidate.code === 'number' && Number.isInteger(candidate.code)) {
      // A viem error's `message` carries its URL: only its `details` (the node's message), or a plain object's message.
      const text = e instanceof Error ? candidate.details : candidate.message;
      answered = { code: candidate.code, text, data: candidate.data };
    }
  }
  if (answered === null || (answered.code !== 3 && (answered.code > -32000 || answered.code < -32768)))
    return new Clawd402Error('chain_unavailable', undefined, { details: { chainId }, cause: error });
  const message = typeof answered.text === 'string' ? answered.text.slice(0, 300) : 'The chain refused the request.';
  if (answered.code === 3) {
    const data = typeof answered.data === 'string' && /^0x[0-9a-fA-F]*$/.test(answered.data) ? answered.data : '0x';
    return new RpcFailure({ code: 3, message, data });
  }
  return new RpcFailure({ code: answered.code, message, data: { code: 'rpc_upstream_error' } });
}
