import type { IntentBody } from '@clawd402/protocol';
import { Clawd402ClientError } from './errors.ts';

/**
 * Which of the signer's keys signs. The gateway binds one key to each agent (the operator chooses it when issuing the
 * API key), so `keystore`, `hd_wallet` and `hardware` name the kind of key the agent's is and select nothing: an
 * `address` or `label` is refused (`wallet_selection_unsupported`). `private_key` is always refused: keys never leave
 * the signer, and never enter the SDK.
 */
export type WalletSelector =
  | { type: 'keystore' | 'hd_wallet' | 'hardware'; address?: string; label?: string }
  | { type: 'private_key'; [field: string]: unknown };

/** What every action takes. */
export interface ExecuteCommon {
  /** Defaults to the client's `chainId`. */
  chainId?: number;
  memo?: string;
  /** Reuse to make a retry of the same request return the same intent; one is generated per call otherwise. */
  idempotencyKey?: string;
  /**
   * The gateway simulates every transaction before it decides (docs/simulation.md); `true` (the default) states the
   * expectation and returns the result as `simulationResult`. It cannot be turned off per intent: `false` is refused.
   */
  simulate?: boolean;
  wallet?: WalletSelector;
  /** Wait until the intent ends (confirmed, signed signature, failed, …); a number is the timeout in ms. */
  wait?: boolean | number;
}

/** Amounts are display units of the asset (`"0.01"` ETH); numbers must be plain (no exponent). */
export type Amount = string | number;

export interface TransferRequest extends ExecuteCommon {
  action: 'transfer';
  to: string;
  /** `native` (default) or a token address. */
  asset?: string;
  amount: Amount;
  /** Unix seconds or a Date: nothing is signed or resubmitted after it. */
  deadline?: number | Date;
}

export interface ContractCallRequest extends ExecuteCommon {
  action: 'contract_call';
  to: string;
  data: string;
  /** Native value sent with the call, in display units. */
  value?: Amount;
  deadline?: number | Date;
}

export interface SwapRequest extends ExecuteCommon {
  action: 'swap';
  inputAsset: string;
  inputAmount: Amount;
  outputAsset: string;
  /** At most two fractional digits, e.g. `0.5`. */
  maxSlippagePercent: string | number;
  /** Unix seconds or a Date; defaults to 10 minutes from now. */
  deadline?: number | Date;
}

/** EIP-712 typed data; bigints are sent as decimal strings. */
export interface SignTypedDataRequest extends ExecuteCommon {
  action: 'sign_typed_data';
  typedData: {
    domain?: Record<string, unknown>;
    types: Record<string, readonly { name: string; type: string }[]>;
    primaryType: string;
    message: Record<string, unknown>;
  };
}

/** EIP-191 `personal_sign`: UTF-8 text, or raw bytes as 0x hex. */
export interface SignMessageRequest extends ExecuteCommon {
  action: 'sign_message';
  message: string | { raw: string };
}

export type ActionRequest =
  TransferRequest | ContractCallRequest | SwapRequest | SignTypedDataRequest | SignMessageRequest;

/** The default swap deadline: ten minutes. */
const SWAP_DEADLINE_SECONDS = 600;

const invalid = (message: string, details: Record<string, unknown> = {}): never => {
  throw new Clawd402ClientError('invalid_option', { message, details });
};

/** Client-side refusals that need no gateway: a private key, a key selection, an attempt to skip simulation. */
export function checkCommon(request: ExecuteCommon): void {
  const wallet = request.wallet;
  if (wallet?.type === 'private_key') {
    throw new Clawd402ClientError('wallet_private_key_refused', {
      message:
        'wallet { type: "private_key" } is refused: keys live in the signer process and never enter the SDK or the ' +
        "gateway. Ask the operator to import the key into the signer's keystore and bind it to this agent.",
    });
  }
  if (wallet && ('address' in wallet || 'label' in wallet) && (wallet.address ?? wallet.label) !== undefined) {
    throw new Clawd402ClientError('wallet_selection_unsupported', {
      message:
        'The gateway binds one signer key to each agent (the operator chooses it when issuing the API key); an intent ' +
        'cannot select a key by address or label. Use an API key of the agent bound to that key.',
    });
  }
  if (wallet && !['keystore', 'hd_wallet', 'hardware'].includes(wallet.type)) {
    invalid('wallet.type is keystore, hd_wallet or hardware.', { field: 'wallet.type' });
  }
  if (request.simulate === false) {
    invalid('The gateway simulates every transaction before it decides; simulation cannot be skipped per intent.', {
      field: 'simulate',
    });
  }
}

/** The `POST /v1/intents` body of a request (packages/protocol/src/intent.schema.ts). */
export function toIntentBody(request: ActionRequest, chainId: number, now = Date.now()): IntentBody {
  checkCommon(request);
  const memo = request.memo !== undefined ? { memo: request.memo } : {};
  const tail = { ...memo, ...('deadline' in request ? deadlineOf(request.deadline) : {}) };
  switch (request.action) {
    case 'transfer': {
      const { to, asset = 'native' } = request;
      return { type: 'transfer', chainId, to, asset, amount: amount(request.amount, 'amount'), ...tail };
    }
    case 'contract_call': {
      const value = request.value === undefined ? {} : { value: amount(request.value, 'value') };
      return { type: 'contract_call', chainId, to: request.to, data: request.data, ...value, ...tail };
    }
    case 'swap':
      return {
        type: 'swap',
        chainId,
        inputAsset: request.inputAsset,
        inputAmount: amount(request.inputAmount, 'inputAmount'),
        outputAsset: request.outputAsset,
        maxSlippagePercent: amount(request.maxSlippagePercent, 'maxSlippagePercent'),
        deadline: deadlineOf(request.deadline ?? Math.floor(now / 1000) + SWAP_DEADLINE_SECONDS).deadline!,
        ...memo,
      };
    case 'sign_typed_data':
      return {
        type: 'typed_data',
        chainId,
        typedData: jsonSafe({ domain: {}, ...request.typedData }) as never,
        ...memo,
      };
    case 'sign_message':
      return { type: 'message', chainId, message: request.message, ...memo };
    default:
      return invalid('action is transfer, contract_call, swap, sign_typed_data or sign_message.', {
        field: 'action',
        action: (request as { action?: unknown }).action,
      });
  }
}

/** A decimal string; a number only when it prints without an exponent (a float is never rounded here). */
function amount(value: Amount, field: string): string {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d+(?:\.\d+)?$/.test(text)) {
    invalid(`${field} must be a non-negative decimal such as "0.5" (numbers without an exponent).`, { field });
  }
  return text;
}

function deadlineOf(deadline: number | Date | undefined): { deadline?: number } {
  if (deadline === undefined) return {};
  const seconds = deadline instanceof Date ? Math.floor(deadline.getTime() / 1000) : deadline;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) invalid('deadline is unix seconds or a Date.');
  return { deadline: seconds };
}

/** Typed data as JSON: bigints become decimal strings (the gateway reads integers beyond 2^53 that way). */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}
