import { erc20Abi, type Address } from 'viem';
import type { DecodedCall } from '@clawd402/decoder';
import { Clawd402Error, type SimulationView } from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { AssetFlow, ApprovalGrant, Simulator } from '../chain/simulator.ts';
import type { NormalizedIntent } from '../domain/intent.ts';
import { formatUsd, valueOf, type UsdMicros } from '../domain/usd.ts';
import type { PriceBook } from '../money/price-book.ts';
import { flowKey, isFungibleToken, type Decoded, type DeclaredOutflow, type FlowKey } from './04-decode.ts';
import type { Cost } from './06-value.ts';

/** SIMULATION and SIMULATION_GAS_CAP (config.ts). */
export interface SimulationSettings {
  /** Simulate every transaction before its decision (`SIMULATION=on`, the default). */
  enabled: boolean;
  /** The most gas a transaction may use; null: the block gas limit only. */
  gasCap: bigint | null;
}

export interface SimulateDeps {
  chains: ChainRegistry;
  prices: PriceBook;
  simulator: Simulator;
  simulation: SimulationSettings;
}

/** What the simulation stage found: the gas the transaction is signed with, and what the simulation showed. */
export interface Simulated {
  /** The gas estimate, raised to what the simulation used plus a margin when it was lower, with its USD. */
  readonly cost: Cost;
  /** Stored with the intent and shown to the agent; `skipped` when SIMULATION=off or a rule waived it. */
  readonly view: SimulationView;
  /** The approvals the signer grants (increases only). */
  readonly grants: readonly ApprovalGrant[];
}

type SimulationOutcome = Awaited<ReturnType<Simulator['simulate']>>;

const NATIVE_DECIMALS = 18;
/**
 * The gas limit is at least the simulated gas plus a third of it. The simulation reports gas after refunds, which
 * return up to a fifth of what a transaction spent (EIP-3529), so while it runs it may need a quarter more than it is
 * charged; and every call keeps back 1/64 of the gas left (EIP-150): a quarter more and three levels of calls fit.
 */
const SIMULATED_GAS_MARGIN_DIVISOR = 3n;

/**
 * Stage 5 — simulate (docs/simulation.md). Balances cover what leaves (value + worst-case fee), allowances exist, and
 * `eth_simulateV1` on the latest block neither reverts (`simulation_reverted` with the decoded reason,
 * `swap_slippage_exceeded`, …) nor moves assets or grants approvals the intent does not declare; gas stays under the
 * block limit and the cap. When the simulation cannot run the intent is refused (`simulation_unavailable`) unless
 * `waived()` says the rule deciding it carries `simulation: waived`.
 *
 * `cost` is the gas estimate running beside this stage, or a function asked for it after the simulation (a plain
 * transfer: its simulated gas is its estimate when no code ran); it is awaited only after the simulation, so a failed
 * simulation answers with its precise code, not estimateGas's. Every refusal is a Clawd402Error with its own code,
 * thrown before anything is recorded or signed.
 */
export async function simulate(
  deps: SimulateDeps,
  request: {
    intent: NormalizedIntent;
    decoded: Decoded;
    from: Address;
    /** The estimate running beside this stage, or one to ask once the simulation's gas is known (null: none ran). */
    cost: Promise<Cost> | ((simulatedGas: bigint | null) => Promise<Cost>);
    waived: () => boolean;
  },
): Promise<Simulated> {
  const { intent, from } = request;
  const { call: decoded, declared } = request.decoded;
  const settings = deps.simulation;
  const [checked, simulated] = await Promise.allSettled([
    checkBalances(deps, intent, decoded, declared, from),
    settings.enabled
      ? deps.simulator.simulate(intent.chainId, { from, ...intent.call }, { gasCap: settings.gasCap })
      : Promise.resolve(null),
  ]);
  if (checked.status === 'rejected') throw checked.reason;
  let outcome = simulated.status === 'fulfilled' ? simulated.value : null;
  if (simulated.status === 'rejected') {
    // The simulation could not run. Refused, unless the rule that decides this intent says `simulation: waived`.
    if (!(
      simulated.reason instanceof Clawd402Error &&
      simulated.reason.code === 'simulation_unavailable' &&
      request.waived()
    )) {
      throw simulated.reason;
    }
    outcome = null;
  }
  if (outcome !== null && !outcome.ok) throw simulationFailure(intent, outcome);

  const costing = typeof request.cost === 'function' ? request.cost(outcome?.gasUsed ?? null) : request.cost;
  const estimated = await costing.catch(async (error: unknown) => {
    // estimateGas also refuses a transaction whose value + fee the balance cannot cover: say so precisely.
    if (outcome !== null) {
      const fees = await deps.chains.feeQuote(intent.chainId).catch(() => null);
      const need = intent.call.value + outcome.gasUsed * (fees?.maxFeePerGas ?? 0n);
      if (checked.value < need) throw insufficient('native', need, checked.value);
    }
    throw error;
  });
  const cost =
    outcome === null
      ? estimated
      : await withSimulatedGas(deps, intent.chainId, estimated, outcome.gasUsed, outcome.blockGasLimit);
  checkGas(settings, cost.gas, outcome?.blockGasLimit ?? null);
  const needed = intent.call.value + cost.gas * cost.fees.maxFeePerGas;
  if (checked.value < needed) {
    const balance = await freshBalance(deps, intent.chainId, from);
    if (balance < needed) throw insufficient('native', needed, balance);
  }
  if (outcome !== null && outcome.gasUsed > (settings.gasCap ?? outcome.blockGasLimit)) {
    throw gasExceeded(outcome.gasUsed, settings.gasCap ?? outcome.blockGasLimit);
  }
  if (outcome === null) return { cost, view: skipped(), grants: [] };
  const grants = await checkFlows(deps, intent, declared, decoded, outcome.flows, outcome.approvals, from);
  return { cost, view: await simulationView(deps, intent.chainId, outcome, grants, from), grants };
}

/**
 * The signer's native balance at the latest block (returned, for the fee check once gas is known; kept per block and
 * address by the simulator, read again before a shortfall refuses), and refusals for what it cannot
 * cover before any fee: the native value, the token amounts it declares moving, and a swap's router allowance.
 */
async function checkBalances(
  deps: SimulateDeps,
  intent: NormalizedIntent,
  decoded: DecodedCall | null,
  declared: Map<FlowKey, DeclaredOutflow>,
  from: Address,
): Promise<bigint> {
  const client = deps.chains.client(intent.chainId);
  const unavailable = (cause: unknown): Clawd402Error => chainUnavailable(intent.chainId, cause);
  const tokenChecks: Promise<void>[] = [];
  for (const [key, outflow] of declared) {
    if (key === 'native' || key.includes('#') || !isFungibleToken(intent, decoded, key as Address)) continue;
    tokenChecks.push(
      client.readContract({ address: key as Address, abi: erc20Abi, functionName: 'balanceOf', args: [from] }).then(
        (balance) => {
          if (balance < outflow.amount) throw insufficient(key as Address, outflow.amount, balance);
        },
        () => undefined, // not an ERC-20 after all: the simulation decides
      ),
    );
  }
  if (intent.swap && intent.swap.inputAsset !== 'native') {
    const { inputAsset, inputAmount, router } = intent.swap;
    tokenChecks.push(
      client.readContract({ address: inputAsset, abi: erc20Abi, functionName: 'allowance', args: [from, router] }).then(
        (allowance) => {
          if (allowance < inputAmount) {
            throw new Clawd402Error(
              'allowance_missing',
              `The signer has approved the router for ${allowance} base units of ${inputAsset}; the swap needs ${inputAmount}. Send an approve intent first.`,
              {
                details: {
                  asset: inputAsset,
                  spender: router,
                  required: inputAmount.toString(),
                  allowance: allowance.toString(),
                },
              },
            );
          }
        },
        (cause: unknown) => {
          throw unavailable(cause);
        },
      ),
    );
  }
  for (const effect of decoded?.effects ?? []) {
    // transferFrom of someone else's ERC-20 by the signer needs their allowance.
    if (
      effect.kind === 'transfer' &&
      effect.standard === 'erc20' &&
      effect.spender === from &&
      effect.from !== undefined &&
      effect.from !== from &&
      effect.amount !== undefined
    ) {
      const owner = effect.from;
      const amount = effect.amount;
      tokenChecks.push(
        client
          .readContract({
            address: effect.asset as Address,
            abi: erc20Abi,
            functionName: 'allowance',
            args: [owner, from],
          })
          .then(
            (allowance) => {
              if (allowance < amount) {
                throw new Clawd402Error(
                  'allowance_missing',
                  `${owner} has approved the signer for ${allowance} base units of ${effect.asset}; the call moves ${amount}.`,
                  {
                    details: {
                      asset: effect.asset,
                      spender: from,
                      required: amount.toString(),
                      allowance: allowance.toString(),
                    },
                  },
                );
              }
            },
            () => undefined,
          ),
      );
    }
  }
  let [balance] = await Promise.all([
    deps.simulator.nativeBalance(intent.chainId, from).catch((cause: unknown) => {
      throw unavailable(cause);
    }),
    ...tokenChecks,
  ]);
  if (balance < intent.call.value) balance = await freshBalance(deps, intent.chainId, from);
  if (balance < intent.call.value) throw insufficient('native', intent.call.value, balance);
  return balance;
}

/** The signer's native balance read again, past the one kept for this block, before a shortfall refuses. */
function freshBalance(deps: SimulateDeps, chainId: number, from: Address): Promise<bigint> {
  return deps.simulator.nativeBalance(chainId, from, { fresh: true }).catch((cause: unknown) => {
    throw chainUnavailable(chainId, cause);
  });
}

function chainUnavailable(chainId: number, cause: unknown): Clawd402Error {
  return new Clawd402Error('chain_unavailable', `The RPC for chain ${chainId} did not answer.`, {
    details: { chainId },
    cause,
  });
}

/**
 * estimateGas runs against the pending block, which may share the latest block's timestamp; the simulation runs as
 * the next block, where per-block bookkeeping (a Uniswap V2 pair's price accumulators) can cost more. The gas limit
 * is at least the simulated gas plus a third (SIMULATED_GAS_MARGIN_DIVISOR), so the signed transaction does not run
 * out of gas.
 */
async function withSimulatedGas(
  deps: SimulateDeps,
  chainId: number,
  cost: Cost,
  simulatedGas: bigint,
  blockGasLimit: bigint,
): Promise<Cost> {
  const limit =
    deps.simulation.gasCap !== null && deps.simulation.gasCap < blockGasLimit ? deps.simulation.gasCap : blockGasLimit;
  const margin = simulatedGas + simulatedGas / SIMULATED_GAS_MARGIN_DIVISOR;
  const floor = margin < limit ? margin : limit;
  if (cost.gas >= floor) return cost;
  const usd = await deps.prices.value(chainId, 'native', floor * cost.fees.maxFeePerGas, NATIVE_DECIMALS);
  return { ...cost, gas: floor, usd };
}

function checkGas(settings: SimulationSettings, gas: bigint, blockGasLimit: bigint | null): void {
  const cap = settings.gasCap;
  if (cap !== null && gas > cap) throw gasExceeded(gas, cap);
  if (blockGasLimit !== null && gas > blockGasLimit) throw gasExceeded(gas, blockGasLimit);
}

/** A failed simulation as the most precise refusal. */
function simulationFailure(intent: NormalizedIntent, outcome: Exclude<SimulationOutcome, { ok: true }>): Clawd402Error {
  if (outcome.kind === 'out_of_gas') return gasExceeded(outcome.gasUsed, outcome.gasLimit);
  const reason = outcome.reason;
  const details = {
    reason,
    revertData: outcome.revertData.slice(0, 2 + 2 * 256),
    blockNumber: outcome.blockNumber.toString(),
  };
  if (intent.swap && reason !== null && /INSUFFICIENT_OUTPUT_AMOUNT/.test(reason)) {
    const swap = intent.swap.view;
    return new Clawd402Error(
      'swap_slippage_exceeded',
      `At simulation the swap returns less than its minimum output of ${swap.minOutput} (quote ${swap.quotedOutput}, reference ${swap.referenceOutput ?? 'none'}): ${reason}.`,
      {
        details: {
          ...details,
          minOutput: swap.minOutput,
          quotedOutput: swap.quotedOutput,
          referenceOutput: swap.referenceOutput,
        },
      },
    );
  }
  if (intent.swap && reason !== null && /EXPIRED/.test(reason)) {
    return new Clawd402Error('deadline_passed', `The swap's deadline has passed on chain: ${reason}.`, { details });
  }
  if (
    outcome.errorName === 'ERC20InsufficientAllowance' ||
    (reason !== null && /insufficient allowance|allowance exceeded/i.test(reason))
  ) {
    return new Clawd402Error('allowance_missing', `Simulation: ${reason}.`, { details });
  }
  return new Clawd402Error(
    'simulation_reverted',
    reason === null
      ? 'Simulating the transaction shows it would revert (no reason given); nothing was signed.'
      : `Simulating the transaction shows it would revert: ${reason}.`,
    { details },
  );
}

/**
 * Compare what the simulation moved with what the intent declares: every asset leaving the signer must be declared,
 * in at most the declared amount, to a declared recipient; every approval the signer grants must be in the calldata.
 * Returns the approvals granted (increases only).
 */
async function checkFlows(
  deps: SimulateDeps,
  intent: NormalizedIntent,
  declared: Map<FlowKey, DeclaredOutflow>,
  decoded: DecodedCall | null,
  flows: readonly AssetFlow[],
  approvals: readonly ApprovalGrant[],
  from: Address,
): Promise<ApprovalGrant[]> {
  const moved = new Map<FlowKey, bigint>();
  for (const flow of flows) {
    if (flow.from !== from || flow.to === from) continue;
    const key = flowKey(
      flow.asset,
      flow.standard === 'erc721' || flow.standard === 'erc1155' ? flow.tokenId : undefined,
    );
    const allowed = declared.get(key);
    const total = (moved.get(key) ?? 0n) + flow.amount;
    moved.set(key, total);
    if (!allowed || total > allowed.amount || (allowed.recipients !== null && !allowed.recipients.has(flow.to))) {
      throw new Clawd402Error(
        'simulation_unexpected_outflow',
        `Simulation: ${flow.amount} base units of ${key} would leave the signer for ${flow.to}, which the intent does not declare.`,
        {
          details: {
            asset: flow.asset,
            ...(flow.tokenId !== undefined ? { tokenId: flow.tokenId.toString() } : {}),
            amount: flow.amount.toString(),
            counterparty: flow.to,
          },
        },
      );
    }
  }
  const declaredGrants = new Set<string>();
  for (const effect of decoded?.effects ?? []) {
    if (
      (effect.kind === 'approval' || effect.kind === 'approval_for_all' || effect.kind === 'permit') &&
      effect.spender !== undefined
    ) {
      declaredGrants.add(`${effect.asset}:${effect.spender}`);
    }
  }
  const client = deps.chains.client(intent.chainId);
  const grants: ApprovalGrant[] = [];
  for (const grant of approvals) {
    if (grant.owner !== from || !grant.approved) continue;
    if (grant.kind === 'approval' && !declaredGrants.has(`${grant.asset}:${grant.spender}`)) {
      // Some tokens log Approval when transferFrom spends an allowance: a decrease is not a grant.
      const before = await client
        .readContract({ address: grant.asset, abi: erc20Abi, functionName: 'allowance', args: [from, grant.spender] })
        .catch(() => null);
      if (before !== null && grant.amount !== null && grant.amount <= before) continue;
    }
    if (!declaredGrants.has(`${grant.asset}:${grant.spender}`)) {
      throw new Clawd402Error(
        'simulation_unexpected_approval',
        `Simulation: the signer would approve ${grant.spender} on ${grant.asset}, which the calldata does not declare.`,
        {
          details: { asset: grant.asset, spender: grant.spender },
        },
      );
    }
    grants.push(grant);
  }
  return grants;
}

async function simulationView(
  deps: SimulateDeps,
  chainId: number,
  outcome: Extract<SimulationOutcome, { ok: true }>,
  grants: readonly ApprovalGrant[],
  from: Address,
): Promise<SimulationView> {
  const outflows = outcome.flows.filter((f) => f.from === from && f.to !== from);
  const inflows = outcome.flows.filter((f) => f.to === from && f.from !== from);
  const usd = async (list: readonly AssetFlow[]): Promise<UsdMicros | null> => {
    let total = 0n;
    for (const flow of list) {
      if (flow.standard === 'erc721' || flow.standard === 'erc1155') return null;
      const price = await deps.prices.price(chainId, flow.asset);
      if (price.status !== 'ok') return null;
      total += valueOf(flow.amount, price.decimals, price.micros);
    }
    return total;
  };
  const [out, inn] = await Promise.all([usd(outflows), usd(inflows)]);
  const view = (f: AssetFlow, counterparty: Address) => ({
    asset: f.asset,
    amount: f.amount.toString(),
    ...(f.tokenId !== undefined ? { tokenId: f.tokenId.toString() } : {}),
    counterparty,
  });
  return {
    status: 'passed',
    blockNumber: outcome.blockNumber.toString(),
    gasUsed: outcome.gasUsed.toString(),
    outflows: outflows.map((f) => view(f, f.to)),
    inflows: inflows.map((f) => view(f, f.from)),
    approvals: grants.map((g) => ({
      asset: g.asset,
      spender: g.spender,
      amount: g.amount === null ? null : g.amount.toString(),
      unlimited: g.kind === 'approval_for_all' ? g.approved : g.amount !== null && g.amount >= 1n << 255n,
    })),
    recipients: [...new Set(outflows.map((f) => f.to))],
    netOutflowUsd: out === null || inn === null ? null : formatUsd(out - inn),
  };
}

export function insufficient(asset: 'native' | Address, required: bigint, balance: bigint): Clawd402Error {
  return new Clawd402Error(
    'insufficient_funds',
    `The signer holds ${balance} base units of ${asset}; the intent needs ${required}${asset === 'native' ? ' (value + gas limit × max fee per gas)' : ''}.`,
    {
      details: { asset, required: required.toString(), balance: balance.toString() },
    },
  );
}

function gasExceeded(gas: bigint, limit: bigint): Clawd402Error {
  return new Clawd402Error('gas_limit_exceeded', `The transaction needs ${gas} gas; the limit is ${limit}.`, {
    details: { gas: gas.toString(), limit: limit.toString() },
  });
}

function skipped(): SimulationView {
  return {
    status: 'skipped',
    blockNumber: null,
    gasUsed: null,
    outflows: [],
    inflows: [],
    approvals: [],
    recipients: [],
    netOutflowUsd: null,
  };
}
