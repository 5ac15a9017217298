import {
  decodeErrorResult,
  decodeEventLog,
  getAddress,
  parseAbi,
  toEventSelector,
  type Address,
  type Hex,
  type Log,
  type PublicClient,
} from 'viem';
import { Clawd402Error } from '@clawd402/protocol';
import { LRUCache } from 'lru-cache';
import type { ChainRegistry } from './chain-registry.ts';

/** The pseudo-address `eth_simulateV1` with `traceTransfers` logs native-coin transfers from (as ERC-20 Transfer logs). */
export const NATIVE_TRANSFER_LOG_ADDRESS = '0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE' as const;

/** One asset movement a simulation showed. */
export interface AssetFlow {
  readonly asset: 'native' | Address;
  readonly standard: 'native' | 'erc20' | 'erc721' | 'erc1155';
  readonly from: Address;
  readonly to: Address;
  /** Base units; 1 for an ERC-721 token. */
  readonly amount: bigint;
  readonly tokenId?: bigint;
}

/** An `Approval` (ERC-20 amount) or `ApprovalForAll` a simulation showed. */
export interface ApprovalGrant {
  readonly kind: 'approval' | 'approval_for_all';
  readonly asset: Address;
  readonly owner: Address;
  readonly spender: Address;
  /** ERC-20 allowance set; null for ApprovalForAll. */
  readonly amount: bigint | null;
  /** ApprovalForAll: granted (true) or revoked (false). */
  readonly approved: boolean;
}

export type SimulationOutcome =
  | {
      readonly ok: true;
      /** The block the call ran on top of. */
      readonly blockNumber: bigint;
      readonly blockGasLimit: bigint;
      readonly gasUsed: bigint;
      readonly flows: readonly AssetFlow[];
      readonly approvals: readonly ApprovalGrant[];
    }
  | {
      readonly ok: false;
      readonly kind: 'reverted';
      readonly blockNumber: bigint;
      readonly gasUsed: bigint;
      /** Decoded: the `Error(string)` text, `Panic(0x11)`, or `Name(arg, …)` for a known custom error; null when empty. */
      readonly reason: string | null;
      readonly errorName: string | null;
      readonly revertData: Hex;
    }
  | {
      readonly ok: false;
      readonly kind: 'out_of_gas';
      readonly blockNumber: bigint;
      readonly gasUsed: bigint;
      /** The gas the call was given: the block gas limit or the gateway's cap. */
      readonly gasLimit: bigint;
    };

/** Custom errors common enough to name in a revert reason (OpenZeppelin 5 tokens and utilities). */
const KNOWN_ERRORS = parseAbi([
  'error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)',
  'error ERC20InvalidSender(address sender)',
  'error ERC20InvalidReceiver(address receiver)',
  'error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)',
  'error ERC20InvalidApprover(address approver)',
  'error ERC20InvalidSpender(address spender)',
  'error ERC2612ExpiredSignature(uint256 deadline)',
  'error ERC2612InvalidSigner(address signer, address owner)',
  'error ERC721NonexistentToken(uint256 tokenId)',
  'error ERC721IncorrectOwner(address sender, uint256 tokenId, address owner)',
  'error ERC721InsufficientApproval(address operator, uint256 tokenId)',
  'error ERC721InvalidReceiver(address receiver)',
  'error ERC1155InsufficientBalance(address sender, uint256 balance, uint256 needed, uint256 tokenId)',
  'error ERC1155MissingApprovalForAll(address operator, address owner)',
  'error SafeERC20FailedOperation(address token)',
  'error OwnableUnauthorizedAccount(address account)',
  'error EnforcedPause()',
  'error ReentrancyGuardReentrantCall()',
  'error FailedCall()',
  'error InsufficientBalance(uint256 balance, uint256 needed)',
]);

const PANICS: Record<number, string> = {
  0x01: 'assertion failed',
  0x11: 'arithmetic overflow or underflow',
  0x12: 'division by zero',
  0x21: 'invalid enum value',
  0x22: 'invalid storage byte array',
  0x31: 'pop on an empty array',
  0x32: 'array index out of bounds',
  0x41: 'out of memory',
  0x51: 'call to an uninitialised function',
};

const EVENTS = {
  erc20Transfer: parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']),
  erc721Transfer: parseAbi(['event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)']),
  transferSingle: parseAbi([
    'event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value)',
  ]),
  transferBatch: parseAbi([
    'event TransferBatch(address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values)',
  ]),
  erc20Approval: parseAbi(['event Approval(address indexed owner, address indexed spender, uint256 value)']),
  approvalForAll: parseAbi(['event ApprovalForAll(address indexed owner, address indexed operator, bool approved)']),
};
const TOPIC = {
  transfer: toEventSelector('Transfer(address,address,uint256)'),
  transferSingle: toEventSelector('TransferSingle(address,address,address,uint256,uint256)'),
  transferBatch: toEventSelector('TransferBatch(address,address,address,uint256[],uint256[])'),
  approval: toEventSelector('Approval(address,address,uint256)'),
  approvalForAll: toEventSelector('ApprovalForAll(address,address,bool)'),
};

const MAX_REASON_CHARS = 200;

/**
 * Runs a transaction on top of the latest block with `eth_simulateV1` (state unchanged, nothing broadcast), with
 * `traceTransfers` so native-coin movements are logged too, and reads what it would do: revert (with the decoded
 * reason), run out of gas, or succeed with these token and native flows and these approvals. Viem's `simulateBlocks`
 * makes the call. Any RPC failure, including a node without `eth_simulateV1`, is `simulation_unavailable`: the caller
 * fails closed.
 */
/** What a simulation needs of the block it runs on. */
type LatestBlock = { number: bigint; hash: Hex | null; gasLimit: bigint; timestamp: bigint };

/** Addresses whose balance at the latest block is kept (one entry each, replaced when the block changes). */
const BALANCES_KEPT = 10_000;

export class Simulator {
  /** The latest block being fetched, per chain: concurrent simulations share one eth_getBlockByNumber. */
  private readonly latest = new Map<number, Promise<LatestBlock>>();
  /** `chainId:address` → its native balance at the block `hash` (a pending read is kept too, and shared). */
  private readonly balances = new LRUCache<string, { hash: Hex; balance: Promise<bigint> }>({ max: BALANCES_KEPT });

  constructor(private readonly chains: ChainRegistry) {}

  /**
   * The native balance of `address` at the chain's latest block, read no earlier than this call (the block is fetched
   * as for a simulation, shared with those in flight). Reads of one address at one block share one `eth_getBalance`:
   * the state at a block hash never changes, so the answer is the one a fresh read would give, and a busy address
   * costs one read per block rather than one per intent. A failed read is not kept. `fresh` reads again whatever is
   * kept: a development chain can change a balance without a new block (`anvil_setBalance`), so a shortfall is
   * confirmed with a fresh read before it refuses anything (05-simulate.ts).
   */
  async nativeBalance(chainId: number, address: Address, options: { fresh?: boolean } = {}): Promise<bigint> {
    const client = this.chains.client(chainId);
    const block = await this.latestBlock(chainId, client);
    if (block.hash === null) return client.getBalance({ address, blockNumber: block.number });
    const key = `${chainId}:${address}`;
    const kept = this.balances.get(key);
    if (kept?.hash === block.hash && options.fresh !== true) return kept.balance;
    const balance = client.getBalance({ address, blockNumber: block.number });
    this.balances.set(key, { hash: block.hash, balance });
    balance.catch(() => {
      if (this.balances.get(key)?.balance === balance) this.balances.delete(key);
    });
    return balance;
  }

  /** The chain's latest block; a request already in flight is shared (its answer is no older than this call). */
  private latestBlock(chainId: number, client: PublicClient): Promise<LatestBlock> {
    const pending = this.latest.get(chainId);
    if (pending) return pending;
    const fetched = client.getBlock({ blockTag: 'latest' });
    this.latest.set(chainId, fetched);
    const forget = (): void => {
      if (this.latest.get(chainId) === fetched) this.latest.delete(chainId);
    };
    fetched.then(forget, forget);
    return fetched;
  }

  async simulate(
    chainId: number,
    call: { from: Address; to: Address; value: bigint; data: Hex },
    options: { gasCap?: bigint | null } = {},
  ): Promise<SimulationOutcome> {
    const client = this.chains.client(chainId);
    try {
      const block = await this.latestBlock(chainId, client);
      const gas = options.gasCap != null && options.gasCap < block.gasLimit ? options.gasCap : block.gasLimit;
      // As the next block: a timestamp after the latest one (contracts that accumulate per block, such as Uniswap V2
      // pairs, use more gas then), never behind the wall clock.
      const time =
        block.timestamp + 1n > BigInt(Math.floor(Date.now() / 1000))
          ? block.timestamp + 1n
          : BigInt(Math.floor(Date.now() / 1000));
      const [simulated] = await client.simulateBlocks({
        blockNumber: block.number,
        blocks: [
          {
            blockOverrides: { time },
            calls: [{ account: call.from, to: call.to, value: call.value, data: call.data, gas }],
          },
        ],
        traceTransfers: true,
        validation: false,
      });
      const result = simulated?.calls[0];
      if (!result) throw new Error('eth_simulateV1 answered without the call');
      if (result.status !== 'success') {
        const data = result.data ?? '0x';
        if (data === '0x' && result.gasUsed >= gas - gas / 64n) {
          return { ok: false, kind: 'out_of_gas', blockNumber: block.number, gasUsed: result.gasUsed, gasLimit: gas };
        }
        return {
          ok: false,
          kind: 'reverted',
          blockNumber: block.number,
          gasUsed: result.gasUsed,
          revertData: data,
          ...decodeRevert(data),
        };
      }
      const { flows, approvals } = readLogs(result.logs ?? []);
      return {
        ok: true,
        blockNumber: block.number,
        blockGasLimit: block.gasLimit,
        gasUsed: result.gasUsed,
        flows,
        approvals,
      };
    } catch (cause) {
      throw new Clawd402Error(
        'simulation_unavailable',
        `Chain ${chainId}'s RPC could not simulate the transaction (eth_simulateV1).`,
        {
          details: { chainId },
          cause,
        },
      );
    }
  }
}

/** The revert reason in words: Error(string), Panic(code), a known custom error, or the selector of an unknown one. */
export function decodeRevert(data: Hex): { reason: string | null; errorName: string | null } {
  if (data === '0x' || data.length < 10) return { reason: null, errorName: null };
  try {
    // Error(string) and Panic(uint256) are decoded too, though they are not in the ABI's types.
    const decoded = decodeErrorResult({ abi: KNOWN_ERRORS, data }) as { errorName: string; args?: readonly unknown[] };
    if (decoded.errorName === 'Error') return { reason: clean(String(decoded.args?.[0])), errorName: 'Error' };
    if (decoded.errorName === 'Panic') {
      const code = Number(decoded.args?.[0]);
      return { reason: `Panic(0x${code.toString(16)}): ${PANICS[code] ?? 'unknown panic'}`, errorName: 'Panic' };
    }
    const args = (decoded.args ?? []).map((a) => (typeof a === 'bigint' ? a.toString() : String(a))).join(', ');
    return { reason: clean(`${decoded.errorName}(${args})`), errorName: decoded.errorName };
  } catch {
    return { reason: `custom error ${data.slice(0, 10)}`, errorName: null };
  }
}

/** Revert strings come from contracts: printable ASCII only, and short. */
function clean(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > MAX_REASON_CHARS ? `${printable.slice(0, MAX_REASON_CHARS)}…` : printable;
}

/** Token and native flows, and approvals, from the simulated call's logs. Logs that do not decode are skipped. */
export function readLogs(logs: readonly Log[]): { flows: AssetFlow[]; approvals: ApprovalGrant[] } {
  const flows: AssetFlow[] = [];
  const approvals: ApprovalGrant[] = [];
  for (const log of logs) {
    const topic = log.topics[0];
    const emitter = getAddress(log.address);
    // Decoded strictly: a log that is not exactly the event its topic names throws, and is skipped below.
    const encoded = { data: log.data, topics: log.topics, strict: true } as const;
    try {
      if (topic === TOPIC.transfer && log.topics.length === 3) {
        const { args } = decodeEventLog({ abi: EVENTS.erc20Transfer, ...encoded });
        const native = emitter === NATIVE_TRANSFER_LOG_ADDRESS;
        flows.push({
          asset: native ? 'native' : emitter,
          standard: native ? 'native' : 'erc20',
          from: getAddress(args.from),
          to: getAddress(args.to),
          amount: args.value,
        });
      } else if (topic === TOPIC.transfer && log.topics.length === 4) {
        const { args } = decodeEventLog({ abi: EVENTS.erc721Transfer, ...encoded });
        flows.push({
          asset: emitter,
          standard: 'erc721',
          from: getAddress(args.from),
          to: getAddress(args.to),
          amount: 1n,
          tokenId: args.tokenId,
        });
      } else if (topic === TOPIC.transferSingle) {
        const { args } = decodeEventLog({ abi: EVENTS.transferSingle, ...encoded });
        flows.push({
          asset: emitter,
          standard: 'erc1155',
          from: getAddress(args.from),
          to: getAddress(args.to),
          amount: args.value,
          tokenId: args.id,
        });
      } else if (topic === TOPIC.transferBatch) {
        const { args } = decodeEventLog({ abi: EVENTS.transferBatch, ...encoded });
        args.ids.forEach((id, i) => {
          flows.push({
            asset: emitter,
            standard: 'erc1155',
            from: getAddress(args.from),
            to: getAddress(args.to),
            amount: args.values[i] ?? 0n,
            tokenId: id,
          });
        });
      } else if (topic === TOPIC.approval && log.topics.length === 3) {
        const { args } = decodeEventLog({ abi: EVENTS.erc20Approval, ...encoded });
        approvals.push({
          kind: 'approval',
          asset: emitter,
          owner: getAddress(args.owner),
          spender: getAddress(args.spender),
          amount: args.value,
          approved: args.value > 0n,
        });
      } else if (topic === TOPIC.approvalForAll) {
        const { args } = decodeEventLog({ abi: EVENTS.approvalForAll, ...encoded });
        approvals.push({
          kind: 'approval_for_all',
          asset: emitter,
          owner: getAddress(args.owner),
          spender: getAddress(args.operator),
          amount: null,
          approved: args.approved,
        });
      }
      // ERC-721 Approval (one token to one address) is not a grant over the owner's other assets; it is not listed.
    } catch {
      // Not the standard event it looks like (wrong data length, a non-standard token): not read as a flow.
    }
  }
  return { flows, approvals };
}
