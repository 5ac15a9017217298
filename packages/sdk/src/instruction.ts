import { Clawd402ClientError, type SdkErrorCode } from './errors.ts';
import type { ContractCallRequest, SwapRequest, TransferRequest } from './requests.ts';

/** An asset the agent may name by symbol: `'native'` or a token address, with its decimals (needed to approve). */
export interface AssetEntry {
  address: string;
  decimals?: number;
}
/** Symbol → asset, as the operator registered them (`GET /admin/assets`); the SDK never invents one. */
export type AssetRegistry = Readonly<Record<string, AssetEntry | string>>;

export interface InstructionOptions {
  assets?: AssetRegistry;
  /** The symbol of the chain's native asset (default `ETH`). */
  nativeSymbol?: string;
  /** Slippage of a swap whose instruction does not say (default `0.5`). */
  maxSlippagePercent?: string;
}

/** What an instruction becomes: one request `execute` takes, to show back to whoever gave the instruction. */
export type ParsedInstruction = TransferRequest | SwapRequest | (ContractCallRequest & { approve: ApproveSummary });
export interface ApproveSummary {
  token: string;
  spender: string;
  amount: string;
}

const AMOUNT = /^(?:0|[1-9]\d{0,59})(?:\.\d{1,36})?$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const PERCENT = /^(?:0|[1-9]\d?)(?:\.\d{1,2})?%$/;
const CONJUNCTIONS = new Set(['and', 'then', 'also', 'plus', '&', ',', ';']);
const APPROVE_SELECTOR = '095ea7b3';

const refuse = (code: SdkErrorCode, message: string, details: Record<string, unknown> = {}): never => {
  throw new Clawd402ClientError(code, { message, details });
};

/**
 * Turns one plain instruction into one request, by a small fixed grammar (no language model, nothing guessed):
 *
 * - `send|transfer <amount> <SYMBOL> to <0x address>`
 * - `swap <amount> <SYMBOL> for|to|into <SYMBOL> [[with] [max] slippage <n>%]`
 * - `approve <amount> <SYMBOL> for|to <0x spender>`
 *
 * Keywords and symbols are case-insensitive; amounts are plain decimals (`100`, `0.5`: no `1,000`, `1e3`, `$5`,
 * `all`); addresses are 0x hex (names are not resolved). Anything else — two instructions, a symbol the registry does
 * not hold or holds twice, a non-ASCII character — is refused with an `instruction_*` code.
 *
 * @example parseInstruction('Swap 100 USDC for WETH', { assets: { USDC: '0xA0b8…', WETH: '0xC02a…' } })
 */
export function parseInstruction(text: string, options: InstructionOptions = {}): ParsedInstruction {
  if (typeof text !== 'string' || text.length === 0 || text.length > 500) {
    refuse('instruction_unrecognized', 'An instruction is one line of at most 500 characters.');
  }
  // Only printable ASCII and plain whitespace: homoglyphs and invisible characters cannot hide in a keyword or symbol.
  if (!/^[\x20-\x7e\t\n\r]+$/.test(text)) {
    refuse('instruction_unrecognized', 'The instruction holds characters outside printable ASCII; refused.');
  }
  const words = text
    .trim()
    .replace(/\.$/, '')
    .split(/\s+/)
    .flatMap((w) => (/^[^,;]+[,;]$/.test(w) ? [w.slice(0, -1), w.slice(-1)] : [w]));
  const verb = words[0]?.toLowerCase();
  const assets = registry(options);
  switch (verb) {
    case 'send':
    case 'transfer': {
      expectLength(words, 5);
      expectWord(words, 3, ['to']);
      return {
        action: 'transfer',
        amount: amountOf(words[1]!),
        asset: assetOf(assets, words[2]!).address,
        to: addressOf(words[4]!, 'recipient'),
      };
    }
    case 'swap': {
      const slippage = slippageOf(words.slice(5));
      expectLength(words, 5 + (slippage === null ? 0 : words.length - 5));
      expectWord(words, 3, ['for', 'to', 'into']);
      const input = assetOf(assets, words[2]!);
      const output = assetOf(assets, words[4]!);
      if (input.address === output.address) {
        refuse('instruction_unrecognized', 'A swap needs two different assets.', { asset: input.symbol });
      }
      return {
        action: 'swap',
        inputAmount: amountOf(words[1]!),
        inputAsset: input.address,
        outputAsset: output.address,
        maxSlippagePercent: slippage ?? options.maxSlippagePercent ?? '0.5',
      };
    }
    case 'approve': {
      expectLength(words, 5);
      expectWord(words, 3, ['for', 'to']);
      const amount = amountOf(words[1]!);
      const token = assetOf(assets, words[2]!);
      if (token.address === 'native') refuse('instruction_unrecognized', 'The native asset has no approvals.');
      if (token.decimals === undefined) {
        refuse('instruction_unknown_asset', `The registry the client holds gives no decimals for ${token.symbol}.`, {
          asset: token.symbol,
        });
      }
      const spender = addressOf(words[4]!, 'spender');
      const units = baseUnits(amount, token.decimals!);
      const data = `0x${APPROVE_SELECTOR}${spender.slice(2).toLowerCase().padStart(64, '0')}${units.toString(16).padStart(64, '0')}`;
      return {
        action: 'contract_call',
        to: token.address,
        data,
        value: '0',
        approve: { token: token.address, spender, amount },
      };
    }
    default:
      return refuse('instruction_unrecognized', 'An instruction starts with send, transfer, swap or approve.');
  }
}

interface Resolved {
  symbol: string;
  address: string;
  decimals: number | undefined;
}

function registry(options: InstructionOptions): Map<string, Resolved[]> {
  const byName = new Map<string, Resolved[]>();
  const add = (symbol: string, entry: AssetEntry): void => {
    const key = symbol.toUpperCase();
    const list = byName.get(key) ?? [];
    if (!list.some((r) => r.address.toLowerCase() === entry.address.toLowerCase())) {
      list.push({ symbol, address: entry.address, decimals: entry.decimals });
    }
    byName.set(key, list);
  };
  add(options.nativeSymbol ?? 'ETH', { address: 'native', decimals: 18 });
  for (const [symbol, entry] of Object.entries(options.assets ?? {})) {
    add(symbol, typeof entry === 'string' ? { address: entry } : entry);
  }
  return byName;
}

function assetOf(assets: Map<string, Resolved[]>, word: string): Resolved {
  const found = assets.get(word.toUpperCase()) ?? [];
  if (found.length > 1) {
    refuse('instruction_ambiguous', `More than one registered asset is called ${word}; name it by address instead.`, {
      symbol: word,
    });
  }
  if (found.length === 0) {
    if (ADDRESS.test(word))
      refuse('instruction_unknown_asset', 'Assets are named by registered symbol.', { symbol: word });
    refuse('instruction_unknown_asset', `No registered asset is called ${word}.`, { symbol: word });
  }
  return found[0]!;
}

function amountOf(word: string): string {
  if (/^\d{1,3}(,\d{3})+(\.\d+)?$/.test(word) || /^\d+,\d+$/.test(word)) {
    refuse('instruction_ambiguous', `${word} could use the comma for thousands or for decimals; write it plainly.`, {
      amount: word,
    });
  }
  if (!AMOUNT.test(word) || !/[1-9]/.test(word)) {
    refuse('instruction_invalid_amount', 'An amount is a positive plain decimal such as 100 or 0.5.', { amount: word });
  }
  return word;
}

function addressOf(word: string, role: 'recipient' | 'spender'): string {
  if (!ADDRESS.test(word)) {
    refuse(
      'instruction_invalid_address',
      `The ${role} must be a 0x address (40 hex digits); names such as ENS are not resolved.`,
      { [role]: word },
    );
  }
  if (/^0x0{40}$/.test(word)) refuse('instruction_invalid_address', `The zero address cannot be a ${role}.`);
  return word;
}

function slippageOf(rest: readonly string[]): string | null {
  if (rest.length === 0) return null;
  const words = rest.map((w) => w.toLowerCase());
  let i = 0;
  if (words[i] === 'with') i += 1;
  if (words[i] === 'max' || words[i] === 'maximum') i += 1;
  if (words[i] !== 'slippage' || i + 2 !== words.length || !PERCENT.test(words[i + 1]!)) return null;
  return words[i + 1]!.slice(0, -1);
}

function expectLength(words: readonly string[], length: number): void {
  if (words.length === length) return;
  if (words.length > length && words.slice(length).some((w) => CONJUNCTIONS.has(w.toLowerCase()))) {
    refuse('instruction_ambiguous', 'One instruction at a time: this one holds more than one.');
  }
  refuse('instruction_unrecognized', 'The instruction does not match the grammar.', { words: words.length });
}

function expectWord(words: readonly string[], index: number, allowed: readonly string[]): void {
  if (!allowed.includes(words[index]!.toLowerCase())) {
    refuse('instruction_unrecognized', `Expected ${allowed.join(' or ')} after the asset.`, { word: words[index] });
  }
}

/** A display amount in base units; refuses more fractional digits than the asset has. */
export function baseUnits(amount: string, decimals: number): bigint {
  const [whole, fraction = ''] = amount.split('.');
  if (fraction.length > decimals) {
    refuse('instruction_invalid_amount', `The asset has ${decimals} decimals; the amount has more.`, { amount });
  }
  const units = BigInt(whole! + fraction.padEnd(decimals, '0'));
  if (units >= 2n ** 256n) refuse('instruction_invalid_amount', 'The amount does not fit in 256 bits.', { amount });
  return units;
}
