import type pg from 'pg';
import { erc20Abi, getAddress, type Address, type Hex } from 'viem';
import { decodeCall, type DecodedCall, type DecodedCallNode, type Effect } from '@clawd402/decoder';
import { evaluate, type IntentFacts, type PolicySet } from '@clawd402/policy';
import { Clawd402Error, type Decision, type SimulationView, type SwapView } from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { AssetFlow, ApprovalGrant, Simulator } from '../chain/simulator.ts';
import type { VerifiedContracts } from '../chain/verified-contracts.ts';
import type { PriceBook, Valuation } from '../money/price-book.ts';
import { formatUsd, valueOf, type UsdMicros } from '../money/usd.ts';
import type { AgentContext } from '../plugins/app/auth.ts';
import { recordChainFacts, type IntentRecord } from '../repositories/intents-repository.ts';
import { agentScope, readSpend } from '../repositories/spend-repository.ts';
import type { SwapPlanner } from '../swaps/swap-planner.ts';
import type { DecisionRequest } from './decision-lanes.ts';
import type { NormalizedIntent } from './normalize.ts';

declare module './intent-pipeline.ts' {
  interface PipelineDeps {
    /** Decoded facts, value and simulation before the decision (chain-facts.ts). */
    chainFacts: ChainFacts;
    /** Quotes and encodes swaps during normalisation (swaps/swap-planner.ts). */
    swaps: SwapPlanner;
  }
}

/** SIMULATION and SIMULATION_GAS_CAP (config.ts). */
export interface SimulationSettings {
  /** Simulate every transaction before its decision (`SIMULATION=on`, the default). */
  enabled: boolean;
  /** The most gas a transaction may use; null: the block gas limit only. */
  gasCap: bigint | null;
}

/**
 * What the simulation adds to the policy facts, for conditions the policy package will define (docs/simulation.md):
 * the USD that leaves the signer net of what arrives, the approvals the signer grants, and every address assets go to.
 * Absent when the simulation was skipped (SIMULATION=off); `netOutflowUsd` absent when an asset has no usable price.
 */
export interface SimulationFacts {
  readonly netOutflowUsd?: UsdMicros;
  readonly newApprovals: readonly { asset: Address; spender: Address; amount?: bigint; unlimited: boolean }[];
  readonly recipientsTouched: readonly Address[];
}

/** Everything this stage found out, for the decision and for the stored intent. */
export interface ChainAssessment {
  /** The intent's value for spend accounting: what leaves the signer (a swap: its input), in USD. */
  readonly value: Valuation;
  /** The gas estimate, raised to what the simulation used plus a margin when it was lower, with its USD. */
  readonly cost: DecisionRequest['cost'];
  /** Facts merged over the intent's own (decision-lanes.ts merges them last). */
  readonly facts: Partial<IntentFacts>;
  readonly simulation: SimulationView;
  readonly swap: SwapView | null;
  /** The intent's deadline (a swap's is also on chain): after it nothing is signed or resubmitted. */
  readonly deadline: Date | null;
}

const NATIVE_DECIMALS = 18;
/** The gas limit is at least the simulated gas plus 1/5 of it. */
const SIMULATED_GAS_MARGIN_DIVISOR = 5n;
const WRAPPER_KINDS = new Set(['multicall', 'multicall3', 'safe_exec_transaction', 'safe_multi_send', 'permit2_lockdown']);
const ACTION_RANK: Record<Decision['action'], number> = { auto_approve: 0, require_human_approval: 1, reject: 2 };

/** One asset key: 'native', a token, or `token#id` for one NFT / ERC-1155 id. */
type FlowKey = string;

interface DeclaredOutflow {
  amount: bigint;
  /** Who may receive it; null: anyone (the pool of a swap). */
  recipients: Set<Address> | null;
}

/**
 * The pipeline stage between normalisation and the decision (docs/simulation.md):
 *
 * 1. **Decode** a contract call (`@clawd402/decoder`): multicall, Multicall3 and Safe batches opened; malformed
 *    calldata refused (`calldata_malformed`), a truncated tree refused as unknown (`calldata_too_complex`).
 * 2. **Facts per effect**: the effective type, asset, recipient, amount, spender, approval amount and
 *    `unlimitedApproval` of each effect. With several effects the decision must hold for every one: each effect is
 *    evaluated against the active policy (with the agent's current spend) and the facts of the strictest decision
 *    are the ones the decision lane sees. An unknown selector stays a `contract_call` with that selector.
 * 3. **Value**: what leaves the signer, in USD (a swap: its input amount).
 * 4. **Checks and simulation** (`SIMULATION=on`): balances cover what leaves (value + worst-case fee), allowances
 *    exist, and `eth_simulateV1` on the latest block neither reverts (`simulation_reverted` with the decoded reason,
 *    `swap_slippage_exceeded`, …) nor moves assets or grants approvals the intent does not declare; gas stays under
 *    the block limit and the cap. The flows, approvals and net USD outflow are stored with the intent.
 *
 * Every refusal here is a Clawd402Error with its own code, thrown before anything is recorded or signed.
 */
export class ChainFacts {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      chains: ChainRegistry;
      prices: PriceBook;
      verifiedContracts: VerifiedContracts;
      simulator: Simulator;
      policy: () => PolicySet;
      settings: SimulationSettings;
    },
  ) {}

  /**
   * Decode, value, check and simulate one normalised intent. `cost` is the gas estimate running beside it; it is
   * awaited only after the simulation, so a failed simulation answers with its precise code, not estimateGas's.
   */
  async assess(request: { principal: AgentContext; intent: NormalizedIntent; cost: Promise<DecisionRequest['cost']> }): Promise<ChainAssessment> {
    const { principal, intent } = request;
    const from = getAddress(principal.signerAddress);
    const decoded = intent.type === 'contract_call' ? decodeIntentCall(intent, from) : null;
    const declared = declaredFlows(intent, decoded, from);

    const [checked, simulated] = await Promise.allSettled([
      this.checkBalances(intent, decoded, declared, from),
      this.deps.settings.enabled
        ? this.deps.simulator.simulate(intent.chainId, { from, ...intent.call }, { gasCap: this.deps.settings.gasCap })
        : Promise.resolve(null),
    ]);
    if (checked.status === 'rejected') throw checked.reason;
    let outcome = simulated.status === 'fulfilled' ? simulated.value : null;
    if (simulated.status === 'rejected') {
      // The simulation could not run. Refused, unless the rule that decides this intent says `simulation: waived`.
      if (!(simulated.reason instanceof Clawd402Error && simulated.reason.code === 'simulation_unavailable' && this.waived(principal, intent))) {
        throw simulated.reason;
      }
      outcome = null;
    }
    if (outcome !== null && !outcome.ok) throw this.simulationFailure(intent, outcome);

    const estimated = await request.cost.catch(async (error: unknown) => {
      // estimateGas also refuses a transaction whose value + fee the balance cannot cover: say so precisely.
      if (outcome !== null) {
        const fees = await this.deps.chains.feeQuote(intent.chainId).catch(() => null);
        const need = intent.call.value + outcome.gasUsed * (fees?.maxFeePerGas ?? 0n);
        if (checked.value < need) throw insufficient('native', need, checked.value);
      }
      throw error;
    });
    const cost = outcome === null ? estimated : await this.withSimulatedGas(intent.chainId, estimated, outcome.gasUsed, outcome.blockGasLimit);
    this.checkGas(cost.gas, outcome?.blockGasLimit ?? null);
    if (checked.value < intent.call.value + cost.gas * cost.fees.maxFeePerGas) {
      throw insufficient('native', intent.call.value + cost.gas * cost.fees.maxFeePerGas, checked.value);
    }
    if (outcome !== null && outcome.gasUsed > (this.deps.settings.gasCap ?? outcome.blockGasLimit)) {
      throw gasExceeded(outcome.gasUsed, this.deps.settings.gasCap ?? outcome.blockGasLimit);
    }

    const [value, grants] = await Promise.all([
      this.value(intent, declared),
      outcome === null ? Promise.resolve([]) : this.checkFlows(intent, declared, decoded, outcome.flows, outcome.approvals, from),
    ]);
    const simulation = outcome === null ? skipped() : await this.simulationView(intent.chainId, outcome, grants, from);
    const facts = await this.facts(principal, intent, decoded, value, simulation, grants);
    return {
      value,
      cost,
      facts,
      simulation,
      swap: intent.swap?.view ?? null,
      deadline: intent.deadline === null ? null : new Date(intent.deadline * 1000),
    };
  }

  /**
   * Whether the rule that decides `intent` on its own facts (no simulation, value or spend: those conditions answer
   * unknown and never grant a waiver) carries `simulation: waived` and does not reject.
   */
  private waived(principal: AgentContext, intent: NormalizedIntent): boolean {
    const set = this.deps.policy();
    const decision = evaluate(set, {
      type: intent.type,
      chainId: intent.chainId,
      recipient: intent.recipient,
      asset: intent.asset,
      amount: intent.amount,
      decimals: intent.decimals,
      agentId: principal.agentId,
      apiKeyId: principal.apiKeyId,
      now: Date.now(),
    });
    if (decision.action === 'reject' || decision.policy === null) return false;
    if (decision.reasons.some((r) => r.code !== 'policy.rule_matched')) return false;
    return set.rules.find((r) => r.name === decision.policy)?.conditions['simulation'] === 'waived';
  }

  /** Store the assessment with the decided intent (its simulation, swap plan and deadline). */
  async record(intent: IntentRecord, assessment: ChainAssessment): Promise<IntentRecord> {
    const updated = await recordChainFacts(this.deps.pool, intent.id, {
      simulation: assessment.simulation,
      swap: assessment.swap,
      deadline: assessment.deadline,
    });
    return updated ?? intent;
  }

  /**
   * The signer's native balance (returned, for the fee check once gas is known), and refusals for what it cannot
   * cover before any fee: the native value, the token amounts it declares moving, and a swap's router allowance.
   */
  private async checkBalances(intent: NormalizedIntent, decoded: DecodedCall | null, declared: Map<FlowKey, DeclaredOutflow>, from: Address): Promise<bigint> {
    const client = this.deps.chains.client(intent.chainId);
    const unavailable = (cause: unknown): Clawd402Error =>
      new Clawd402Error('chain_unavailable', `The RPC for chain ${intent.chainId} did not answer.`, { details: { chainId: intent.chainId }, cause });
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
              throw new Clawd402Error('allowance_missing', `The signer has approved the router for ${allowance} base units of ${inputAsset}; the swap needs ${inputAmount}. Send an approve intent first.`, {
                details: { asset: inputAsset, spender: router, required: inputAmount.toString(), allowance: allowance.toString() },
              });
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
      if (effect.kind === 'transfer' && effect.standard === 'erc20' && effect.spender === from && effect.from !== undefined && effect.from !== from && effect.amount !== undefined) {
        const owner = effect.from;
        const amount = effect.amount;
        tokenChecks.push(
          client.readContract({ address: effect.asset as Address, abi: erc20Abi, functionName: 'allowance', args: [owner, from] }).then(
            (allowance) => {
              if (allowance < amount) {
                throw new Clawd402Error('allowance_missing', `${owner} has approved the signer for ${allowance} base units of ${effect.asset}; the call moves ${amount}.`, {
                  details: { asset: effect.asset, spender: from, required: amount.toString(), allowance: allowance.toString() },
                });
              }
            },
            () => undefined,
          ),
        );
      }
    }
    const [balance] = await Promise.all([client.getBalance({ address: from }).catch((cause: unknown) => { throw unavailable(cause); }), ...tokenChecks]);
    if (balance < intent.call.value) throw insufficient('native', intent.call.value, balance);
    return balance;
  }

  /**
   * estimateGas runs against the pending block, which may share the latest block's timestamp; the simulation runs as
   * the next block, where per-block bookkeeping (a Uniswap V2 pair's price accumulators) can cost more. The gas limit
   * is at least the simulated gas plus a fifth, so the signed transaction does not run out of gas.
   */
  private async withSimulatedGas(chainId: number, cost: DecisionRequest['cost'], simulatedGas: bigint, blockGasLimit: bigint): Promise<DecisionRequest['cost']> {
    const limit = this.deps.settings.gasCap !== null && this.deps.settings.gasCap < blockGasLimit ? this.deps.settings.gasCap : blockGasLimit;
    const margin = simulatedGas + simulatedGas / SIMULATED_GAS_MARGIN_DIVISOR;
    const floor = margin < limit ? margin : limit;
    if (cost.gas >= floor) return cost;
    const usd = await this.deps.prices.value(chainId, 'native', floor * cost.fees.maxFeePerGas, NATIVE_DECIMALS);
    return { ...cost, gas: floor, usd };
  }

  private checkGas(gas: bigint, blockGasLimit: bigint | null): void {
    const cap = this.deps.settings.gasCap;
    if (cap !== null && gas > cap) throw gasExceeded(gas, cap);
    if (blockGasLimit !== null && gas > blockGasLimit) throw gasExceeded(gas, blockGasLimit);
  }

  /** A failed simulation as the most precise refusal. */
  private simulationFailure(intent: NormalizedIntent, outcome: Exclude<Awaited<ReturnType<Simulator['simulate']>>, { ok: true }>): Clawd402Error {
    if (outcome.kind === 'out_of_gas') return gasExceeded(outcome.gasUsed, outcome.gasLimit);
    const reason = outcome.reason;
    const details = { reason, revertData: outcome.revertData.slice(0, 2 + 2 * 256), blockNumber: outcome.blockNumber.toString() };
    if (intent.swap && reason !== null && /INSUFFICIENT_OUTPUT_AMOUNT/.test(reason)) {
      const swap = intent.swap.view;
      return new Clawd402Error('swap_slippage_exceeded', `At simulation the swap returns less than its minimum output of ${swap.minOutput} (quote ${swap.quotedOutput}, reference ${swap.referenceOutput ?? 'none'}): ${reason}.`, {
        details: { ...details, minOutput: swap.minOutput, quotedOutput: swap.quotedOutput, referenceOutput: swap.referenceOutput },
      });
    }
    if (intent.swap && reason !== null && /EXPIRED/.test(reason)) {
      return new Clawd402Error('deadline_passed', `The swap's deadline has passed on chain: ${reason}.`, { details });
    }
    if (outcome.errorName === 'ERC20InsufficientAllowance' || (reason !== null && /insufficient allowance|allowance exceeded/i.test(reason))) {
      return new Clawd402Error('allowance_missing', `Simulation: ${reason}.`, { details });
    }
    return new Clawd402Error('simulation_reverted', reason === null ? 'Simulating the transaction shows it would revert (no reason given); nothing was signed.' : `Simulating the transaction shows it would revert: ${reason}.`, { details });
  }

  /**
   * Compare what the simulation moved with what the intent declares: every asset leaving the signer must be declared,
   * in at most the declared amount, to a declared recipient; every approval the signer grants must be in the calldata.
   * Returns the approvals granted (increases only).
   */
  private async checkFlows(
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
      const key = flowKey(flow.asset, flow.standard === 'erc721' || flow.standard === 'erc1155' ? flow.tokenId : undefined);
      const allowed = declared.get(key);
      const total = (moved.get(key) ?? 0n) + flow.amount;
      moved.set(key, total);
      if (!allowed || total > allowed.amount || (allowed.recipients !== null && !allowed.recipients.has(flow.to))) {
        throw new Clawd402Error('simulation_unexpected_outflow', `Simulation: ${flow.amount} base units of ${key} would leave the signer for ${flow.to}, which the intent does not declare.`, {
          details: { asset: flow.asset, ...(flow.tokenId !== undefined ? { tokenId: flow.tokenId.toString() } : {}), amount: flow.amount.toString(), counterparty: flow.to },
        });
      }
    }
    const declaredGrants = new Set<string>();
    for (const effect of decoded?.effects ?? []) {
      if ((effect.kind === 'approval' || effect.kind === 'approval_for_all' || effect.kind === 'permit') && effect.spender !== undefined) {
        declaredGrants.add(`${effect.asset}:${effect.spender}`);
      }
    }
    const client = this.deps.chains.client(intent.chainId);
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
        throw new Clawd402Error('simulation_unexpected_approval', `Simulation: the signer would approve ${grant.spender} on ${grant.asset}, which the calldata does not declare.`, {
          details: { asset: grant.asset, spender: grant.spender },
        });
      }
      grants.push(grant);
    }
    return grants;
  }

  /** Value of what leaves the signer: a transfer's or swap's amount; for a call, its native value and declared token transfers. */
  private async value(intent: NormalizedIntent, declared: Map<FlowKey, DeclaredOutflow>): Promise<Valuation> {
    const { prices } = this.deps;
    if (intent.type !== 'contract_call') return prices.value(intent.chainId, intent.asset, intent.amount, intent.decimals);
    const parts: Valuation[] = [await prices.value(intent.chainId, 'native', intent.call.value, NATIVE_DECIMALS)];
    for (const [key, outflow] of declared) {
      if (key === 'native') continue;
      if (key.includes('#')) {
        parts.push({ status: 'unknown', detail: `The call moves a non-fungible token (${key}); it has no USD price.` });
        continue;
      }
      const decimals = await this.deps.chains.tokenDecimals(intent.chainId, key as Address).catch(() => null);
      parts.push(
        decimals === null
          ? { status: 'unknown', detail: `Token ${key} does not answer decimals().` }
          : await prices.value(intent.chainId, key, outflow.amount, decimals),
      );
    }
    const failed = parts.find((p) => p.status !== 'ok');
    if (failed) return failed;
    const ok = parts as Extract<Valuation, { status: 'ok' }>[];
    const largest = ok.reduce((a, b) => (b.usd > a.usd ? b : a));
    return { status: 'ok', usd: ok.reduce((sum, p) => sum + p.usd, 0n), price: largest.price };
  }

  private async simulationView(chainId: number, outcome: Extract<Awaited<ReturnType<Simulator['simulate']>>, { ok: true }>, grants: readonly ApprovalGrant[], from: Address): Promise<SimulationView> {
    const outflows = outcome.flows.filter((f) => f.from === from && f.to !== from);
    const inflows = outcome.flows.filter((f) => f.to === from && f.from !== from);
    const usd = async (list: readonly AssetFlow[]): Promise<UsdMicros | null> => {
      let total = 0n;
      for (const flow of list) {
        if (flow.standard === 'erc721' || flow.standard === 'erc1155') return null;
        const price = await this.deps.prices.price(chainId, flow.asset);
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

  /**
   * The facts merged over the intent's own. Transfers and swaps: never an approval, the contract's verified flag.
   * Contract calls: the facts of the effect whose decision is strictest (see the class comment).
   */
  private async facts(
    principal: AgentContext,
    intent: NormalizedIntent,
    decoded: DecodedCall | null,
    value: Valuation,
    simulation: SimulationView,
    grants: readonly ApprovalGrant[],
  ): Promise<Partial<IntentFacts>> {
    const { verifiedContracts } = this.deps;
    const simulated: { simulation?: SimulationFacts } =
      simulation.status === 'skipped'
        ? {}
        : {
            simulation: {
              ...(simulation.netOutflowUsd === null || simulation.netOutflowUsd.startsWith('-') ? {} : { netOutflowUsd: usdMicros(simulation.netOutflowUsd) }),
              newApprovals: grants.map((g) => ({
                asset: g.asset,
                spender: g.spender,
                ...(g.amount === null ? {} : { amount: g.amount }),
                unlimited: g.kind === 'approval_for_all' ? g.approved : g.amount !== null && g.amount >= 1n << 255n,
              })),
              recipientsTouched: simulation.recipients as Address[],
            },
          };
    if (decoded === null) {
      const target = intent.type === 'swap' ? intent.call.to : intent.asset === 'native' ? null : intent.call.to;
      const facts: Partial<IntentFacts> & { simulation?: SimulationFacts } = {
        unlimitedApproval: false,
        ...(intent.type === 'swap' ? { selector: selectorOf(intent.call.data) } : {}),
        ...(target === null ? {} : { contractVerified: await verifiedContracts.isVerified(intent.chainId, target) }),
        ...simulated,
      };
      return facts;
    }
    const candidates = await Promise.all(decoded.effects.map((effect) => this.effectFacts(intent.chainId, decoded, effect)));
    if (candidates.length === 0) {
      return { selector: decoded.selector ?? undefined, contractVerified: await verifiedContracts.isVerified(intent.chainId, intent.call.to), ...simulated };
    }
    const chosen = candidates.length === 1 ? candidates[0]! : await this.strictest(principal, intent, value, candidates);
    const facts: Partial<IntentFacts> & { simulation?: SimulationFacts } = { ...chosen, ...simulated };
    return facts;
  }

  /** One effect as policy facts: its own type, asset, recipient, amount and approval fields. */
  private async effectFacts(chainId: number, decoded: DecodedCall, effect: Effect): Promise<Partial<IntentFacts>> {
    const node = findNode(decoded.calls, effect.path);
    const known = node !== null && node.kind !== 'unknown_call';
    const call = node?.functionName && node.args ? { functionName: node.functionName, args: argsByPosition(node.args) } : undefined;
    const common: Partial<IntentFacts> = {
      selector: (effect.selector ?? node?.selector ?? undefined) as `0x${string}` | undefined,
      call,
      contractVerified: await this.deps.verifiedContracts.isVerified(chainId, effect.target),
      spender: undefined,
      approvalAmount: undefined,
    };
    const decimalsOf = async (asset: Address | 'native'): Promise<number | undefined> =>
      asset === 'native' ? NATIVE_DECIMALS : ((await this.deps.chains.tokenDecimals(chainId, asset).catch(() => null)) ?? undefined);
    switch (effect.kind) {
      case 'native_transfer':
        return { ...common, type: 'transfer', recipient: effect.recipient ?? effect.target, asset: 'native', amount: effect.amount, decimals: NATIVE_DECIMALS, unlimitedApproval: false };
      case 'transfer': {
        const nft = effect.standard === 'erc721' || effect.standard === 'erc1155';
        return {
          ...common,
          type: 'transfer',
          recipient: effect.recipient,
          asset: effect.asset,
          amount: effect.standard === 'erc721' ? 1n : effect.amount,
          decimals: nft ? 0 : await decimalsOf(effect.asset),
          unlimitedApproval: false,
        };
      }
      case 'approval':
      case 'permit':
        return {
          ...common,
          type: 'approve',
          recipient: effect.spender,
          asset: effect.asset,
          amount: effect.amount,
          decimals: effect.standard === 'erc721' ? 0 : await decimalsOf(effect.asset),
          spender: effect.spender,
          approvalAmount: effect.amount,
          unlimitedApproval: effect.unlimited === true,
        };
      case 'approval_for_all':
        return {
          ...common,
          type: 'approve',
          recipient: effect.spender,
          asset: effect.asset,
          amount: undefined,
          decimals: undefined,
          spender: effect.spender,
          unlimitedApproval: effect.unlimited === true,
        };
      case 'contract_call':
      case 'delegatecall':
        return {
          ...common,
          type: 'contract_call',
          recipient: effect.target,
          asset: 'native',
          amount: node?.value ?? 0n,
          decimals: NATIVE_DECIMALS,
          // A batch wrapper's own effect: the decoder read everything it does (its inner effects are listed too).
          // An unknown selector could do anything, approvals included: left unknown, so such rules fail closed.
          unlimitedApproval: known && WRAPPER_KINDS.has(node.kind) && effect.kind === 'contract_call' ? false : undefined,
        };
    }
  }

  /**
   * Evaluate each effect against the active policy with the facts the decision lane will add (the agent's spend read
   * now, the intent's value) and return the facts of the strictest decision: reject over human approval over
   * auto-approve; among rejects, a matched rule (a blacklist) over an unknown fact over the default deny. The lane
   * evaluates those facts again under its lock.
   */
  private async strictest(principal: AgentContext, intent: NormalizedIntent, value: Valuation, candidates: Partial<IntentFacts>[]): Promise<Partial<IntentFacts>> {
    const scope = agentScope(principal.agentId);
    const spend = (await readSpend(this.deps.pool, [scope])).get(scope)!;
    const policy = this.deps.policy();
    const now = Date.now();
    let best: { facts: Partial<IntentFacts>; rank: number } | null = null;
    for (const candidate of candidates) {
      const decision = evaluate(policy, {
        type: intent.type,
        chainId: intent.chainId,
        recipient: intent.recipient,
        asset: intent.asset,
        amount: intent.amount,
        decimals: intent.decimals,
        agentId: principal.agentId,
        apiKeyId: principal.apiKeyId,
        priceStatus: value.status,
        ...(value.status === 'ok' ? { valueUsd: value.usd } : {}),
        spend: { dayUsd: spend.dayUsd, hourUsd: spend.hourUsd, dayCount: spend.dayCount, hourCount: spend.hourCount },
        now,
        ...candidate,
      });
      const rank = ACTION_RANK[decision.action] * 10 + (decision.action === 'reject' ? rejectRank(decision) : 0);
      if (best === null || rank > best.rank) best = { facts: candidate, rank };
    }
    return best!.facts;
  }
}

function rejectRank(decision: Decision): number {
  if (decision.policy === null) return 1; // default deny
  if (decision.reasons.some((r) => r.code === 'policy.condition_unknown_fact' || r.code.startsWith('price.'))) return 2;
  return 3; // a rule that matched: a blacklist, an explicit reject
}

/** Decode a contract call; malformed calldata and truncated trees are refused. */
function decodeIntentCall(intent: NormalizedIntent, from: Address): DecodedCall {
  const result = decodeCall({ chainId: intent.chainId, to: intent.call.to, value: intent.call.value, data: intent.call.data, from });
  if (!result.ok) {
    throw new Clawd402Error('calldata_malformed', result.message, {
      details: { field: 'data', ...(result.path ? { path: [...result.path] } : {}), ...(result.selector ? { selector: result.selector } : {}) },
    });
  }
  if (result.flags.truncated) {
    throw new Clawd402Error('calldata_too_complex', 'The call nests deeper or wider than the decoder follows, so what it does is unknown; refused.', { details: { field: 'data' } });
  }
  return result;
}

/** What the intent says may leave the signer, per asset key. */
function declaredFlows(intent: NormalizedIntent, decoded: DecodedCall | null, from: Address): Map<FlowKey, DeclaredOutflow> {
  const declared = new Map<FlowKey, DeclaredOutflow>();
  const add = (key: FlowKey, amount: bigint, recipient: Address | null): void => {
    const entry = declared.get(key) ?? { amount: 0n, recipients: new Set<Address>() };
    entry.amount += amount;
    if (recipient === null) entry.recipients = null;
    else entry.recipients?.add(recipient);
    declared.set(key, entry);
  };
  // Native coin leaves an account only as the transaction's own value.
  if (intent.call.value > 0n) add('native', intent.call.value, intent.call.to);
  if (intent.type === 'transfer' && intent.asset !== 'native') add(intent.asset, intent.amount, intent.recipient);
  if (intent.swap && intent.swap.inputAsset !== 'native') add(intent.swap.inputAsset, intent.swap.inputAmount, null);
  for (const effect of decoded?.effects ?? []) {
    if (effect.kind !== 'transfer' || effect.from !== from || effect.recipient === undefined) continue;
    const asset = effect.asset as Address;
    if (effect.standard === 'erc721' && effect.tokenId !== undefined) add(flowKey(asset, effect.tokenId), 1n, effect.recipient);
    else if (effect.standard === 'erc1155' && effect.tokenId !== undefined && effect.amount !== undefined) add(flowKey(asset, effect.tokenId), effect.amount, effect.recipient);
    else if (effect.amount !== undefined) {
      add(asset, effect.amount, effect.recipient);
      // transferFrom(address,address,uint256) is ERC-20 or ERC-721: the uint256 may be a token id.
      if (effect.standard === 'erc20_or_erc721') add(flowKey(asset, effect.amount), 1n, effect.recipient);
    }
  }
  return declared;
}

function flowKey(asset: 'native' | Address, tokenId?: bigint): FlowKey {
  return tokenId === undefined ? asset : `${asset}#${tokenId}`;
}

/** A declared token outflow whose balance can be read with ERC-20 balanceOf before simulating. */
function isFungibleToken(intent: NormalizedIntent, decoded: DecodedCall | null, asset: Address): boolean {
  if (intent.type === 'transfer' || intent.swap) return true;
  return (decoded?.effects ?? []).some((e) => e.kind === 'transfer' && e.asset === asset && e.standard === 'erc20');
}

function findNode(root: DecodedCallNode, path: readonly number[]): DecodedCallNode | null {
  let node: DecodedCallNode | undefined = root;
  for (const index of path) {
    node = node?.children[index];
    if (node === undefined) return null;
  }
  return node;
}

/** Decoded arguments keyed by position ("0", "1", …): the decoder's nodes carry values, not parameter names. */
function argsByPosition(args: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(args.map((a, i) => [String(i), a]));
}

function selectorOf(data: Hex): `0x${string}` | undefined {
  return data.length >= 10 ? (data.slice(0, 10).toLowerCase() as `0x${string}`) : undefined;
}

function usdMicros(text: string): UsdMicros {
  const [whole, fraction = ''] = text.split('.');
  return BigInt(whole!) * 1_000_000n + BigInt((fraction + '000000').slice(0, 6));
}

function insufficient(asset: 'native' | Address, required: bigint, balance: bigint): Clawd402Error {
  return new Clawd402Error('insufficient_funds', `The signer holds ${balance} base units of ${asset}; the intent needs ${required}${asset === 'native' ? ' (value + gas limit × max fee per gas)' : ''}.`, {
    details: { asset, required: required.toString(), balance: balance.toString() },
  });
}

function gasExceeded(gas: bigint, limit: bigint): Clawd402Error {
  return new Clawd402Error('gas_limit_exceeded', `The transaction needs ${gas} gas; the limit is ${limit}.`, { details: { gas: gas.toString(), limit: limit.toString() } });
}

function skipped(): SimulationView {
  return { status: 'skipped', blockNumber: null, gasUsed: null, outflows: [], inflows: [], approvals: [], recipients: [], netOutflowUsd: null };
}
