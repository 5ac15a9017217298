import type pg from 'pg';
import { getAddress, type Address } from 'viem';
import {
  isSignatureIntentBody,
  logEvent,
  type IntentBody,
  type IntentOrigin,
  type SignatureIntentBody,
} from '@clawd402/protocol';
import type { PolicySet } from '@clawd402/policy';
import type { SignerClient, TicketIssuer } from '@clawd402/signer-client';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { Simulator } from '../chain/simulator.ts';
import type { VerifiedContracts } from '../chain/verified-contracts.ts';
import type { AgentContext, Requester } from '../domain/agent.ts';
import { assertNotHalted, type HaltView } from '../domain/halts.ts';
import type { IntentRecord } from '../domain/intent.ts';
import { callOf } from '../domain/intent-call.ts';
import type { Logger } from '../domain/logger.ts';
import type { PriceBook } from '../money/price-book.ts';
import type { HygieneRules } from '../security/intent-hygiene.ts';
import type { KnownAddresses } from '../security/known-addresses.ts';
import type { SwapPlanner } from '../swaps/swap-planner.ts';
import { authorize } from './01-authorize.ts';
import { screenIntent } from './02-screen.ts';
import { normalizeIntent } from './03-normalize.ts';
import { decode } from './04-decode.ts';
import { simulate, type SimulationSettings } from './05-simulate.ts';
import { PLAIN_TRANSFER_GAS, estimateCost, valueIntent, type Cost } from './06-value.ts';
import type { MoneySettings } from './07-decide.ts';
import { DecisionLanes } from './08-reserve.ts';
import { checkApproved } from './09-approve.ts';
import { SigningLanes, signSignature, type SignRequest } from './10-sign.ts';
import { SubmissionLog, submitSigned, type SubmitDeps } from './11-submit.ts';
import { failIntent } from './failures.ts';
import { findRetried, requestHashOf, winnerOfRace } from './idempotency.ts';
import { simulationWaived, transactionFacts } from './policy-facts.ts';
import { prepareSignature, recordRefusal, signatureDecisionRequest } from './signature-intents.ts';
import type { X402Settings } from './x402-payments.ts';

/** Everything the intent path uses, declared in one place and built once in app.ts. */
export interface IntentPathDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  /** The active policy set (policy/policy-store.ts follows activations on every process). */
  policy: () => PolicySet;
  signer: SignerClient;
  tickets: TicketIssuer;
  prices: PriceBook;
  verifiedContracts: VerifiedContracts;
  simulator: Simulator;
  /** SIMULATION and SIMULATION_GAS_CAP. */
  simulation: SimulationSettings;
  /** Quotes and encodes swaps during normalisation. */
  swaps: SwapPlanner;
  /** Breakers, hard allowlist and soft-approval settings, breaker alert channels. */
  money: MoneySettings;
  /** What x402 payments may pay: assets, listed payees, validity and price caps (docs/x402.md). */
  x402: X402Settings;
  /** Agent input hygiene rules, applied by the screen before anything reads the intent. */
  hygiene: HygieneRules;
  /** Signer-key and agent signer addresses: a memo holding the private key of one is a leak. */
  knownAddresses: KnownAddresses;
  /** The kill switch and pauses as this process follows them (services/killswitch-service.ts). */
  halts: HaltView;
  log: Logger;
  /** Told when an intent is decided and when the path is done with it (metrics.ts counts and times them). */
  observe?: IntentPathObserver;
}

/**
 * The spans of a request's way through the path, in order (docs/metrics.md, `clawd402_intent_stage_seconds`):
 * `admit` (authorisation, halts, the screen, the idempotency lookup), `prepare` (normalise and decode; a signature
 * intent's preparation), `simulate` (simulation, gas, valuation and the policy's chain facts), `decide` (the wait for
 * the decision lane and its transaction), `sign` (the wait for the signing lane, the signer and the signed rows'
 * transaction), `submit` (the broadcast and its record).
 */
export type IntentStage = 'admit' | 'prepare' | 'simulate' | 'decide' | 'sign' | 'submit';

/** What the path reports as it goes; `seconds` count from the request entering the path. */
export interface IntentPathObserver {
  decided(intent: IntentRecord, seconds: number): void;
  /** The path answered: the intent as it stands, or `null` when the request was refused before one was stored. */
  finished(type: string, intent: IntentRecord | null, seconds: number): void;
  /** A stage the request finished, and the seconds it spent there, waiting included. A request refused partway (an
   * error answer) reports only the stages before the refusal. */
  stage?(stage: IntentStage, seconds: number): void;
}

const since = (started: number): number => (performance.now() - started) / 1000;

/** Reports each stage's span to the observer as the request finishes it (a no-op without one). */
function stageClock(observer: IntentPathObserver | undefined, started: number): (stage: IntentStage) => void {
  if (!observer?.stage) return () => {};
  let last = started;
  return (stage) => {
    const now = performance.now();
    observer.stage!(stage, (now - last) / 1000);
    last = now;
  };
}

/** The decision's log lines (docs/logging.md): per intent at debug; a spend limit or a wait for a human at info. */
function logDecided(log: Logger, intent: IntentRecord): void {
  const codes = intent.decision?.reasons.map((r) => r.code) ?? [];
  const who = { intentId: intent.id, agentId: intent.agentId };
  logEvent(log, 'intent.decided', {
    ...who,
    type: intent.type,
    chainId: intent.chainId,
    status: intent.status,
    policy: intent.decision?.policy,
    codes,
  });
  if (codes.includes('spend.limit_exceeded')) logEvent(log, 'money.spend_limit_exceeded', who);
  if (intent.status === 'pending_approval') logEvent(log, 'intent.approval_requested', who);
}

export interface PathResult {
  intent: IntentRecord;
  /** False when an Idempotency-Key retry returned an existing intent. */
  created: boolean;
}

/**
 * The intent path (README.md in this folder). One request, top to bottom — each stage a file named for what it
 * does, numbered in the order it runs:
 *
 *   01 authorize → 02 screen → idempotency → 03 normalize → 04 decode → 05 simulate ∥ 06 value → policy facts →
 *   07 decide + 08 reserve (one critical section under the spend locks; 09 approval request when a human must decide)
 *   → 10 sign → 11 submit;  then 12 track → 13 settle run in the background on receipts (the receipt-tracker worker).
 *
 * Signature intents branch after idempotency (signature-intents.ts) and rejoin at the same decision lane and sign
 * stage. A human-approved intent re-enters at {@link IntentPath.resumeApproved}. Money fails closed: any failure
 * before the signed transaction is stored leaves nothing signed that can leave.
 */
export class IntentPath {
  private readonly decisions: DecisionLanes;
  private readonly signing: SigningLanes;
  /** Stage 11's deps: broadcasts recorded in batches. */
  private readonly submitting: SubmitDeps;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: IntentPathDeps) {
    this.decisions = new DecisionLanes(deps);
    this.signing = new SigningLanes(deps);
    this.submitting = {
      pool: deps.pool,
      chains: deps.chains,
      log: deps.log,
      submissions: new SubmissionLog(deps.pool),
    };
  }

  /**
   * Run one intent through the path; resolves with the intent as it stands when the path is done with it. `origin`
   * says which surface it came through (REST, JSON-RPC, MCP, x402): stored with the intent, read by the policy.
   * `requestId` (the HTTP request's id) travels to the signer's log line for the signature (docs/logging.md).
   */
  submit(
    agent: AgentContext,
    body: IntentBody,
    idempotencyKey: string | null,
    origin: IntentOrigin,
    requestId?: string,
  ): Promise<PathResult> {
    const started = performance.now();
    const work = this.process({ ...agent, origin }, body, idempotencyKey, started, requestId);
    const { observe } = this.deps;
    if (observe) {
      void work.then(
        (result) => result.created && observe.finished(body.type, result.intent, since(started)),
        () => observe.finished(body.type, null, since(started)),
      );
    }
    return this.track(work);
  }

  /**
   * Carry on with an intent a human approved (approvals/approval-service.ts): check the approval still binds exactly
   * this intent (its digest), value and price it afresh, re-check budgets under lock and reserve, then sign and
   * submit like any approved intent. Safe to call twice or from two processes: every step is compare-and-set.
   */
  resumeApproved(intentId: string, requestId?: string): Promise<IntentRecord | null> {
    return this.track(this.resume(intentId, requestId));
  }

  /** Resolves when every intent being processed has finished (graceful shutdown waits for this). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async process(
    principal: Requester,
    body: IntentBody,
    idempotencyKey: string | null,
    started: number,
    requestId: string | undefined,
  ): Promise<PathResult> {
    const { deps } = this;
    const lap = stageClock(deps.observe, started);
    authorize(principal, body);
    assertNotHalted(deps.halts, principal, body.chainId); // kill switch, paused agent, key or chain: nothing written
    await screenIntent(deps, principal, body); // nothing reads a hostile intent
    const requestHash = requestHashOf(body);
    const retried = await findRetried(deps.pool, principal.agentId, idempotencyKey, requestHash);
    if (retried) return { intent: retried, created: false };
    lap('admit');
    if (isSignatureIntentBody(body))
      return this.processSignature(principal, body, requestHash, idempotencyKey, started, requestId, lap);

    const from = getAddress(principal.signerAddress);
    const intent = await normalizeIntent(body, deps.chains, { from, swaps: deps.swaps });
    const decoded = decode(intent, from);
    lap('prepare');
    // Gas and fees are estimated beside the simulation; a refusal from the simulation (its precise code) wins. A plain
    // native transfer (no calldata) is not estimated: when its simulation used exactly 21,000 gas, no code ran and
    // that is its estimate; otherwise (code ran, or no simulation) eth_estimateGas is asked after all.
    const plain = intent.call.data === '0x' && deps.simulation.enabled;
    const costing = plain
      ? (simulatedGas: bigint | null) =>
          estimateCost(deps, from, intent, simulatedGas === PLAIN_TRANSFER_GAS ? simulatedGas : undefined)
      : estimateCost(deps, from, intent);
    if (typeof costing === 'function')
      deps.chains.feeQuote(intent.chainId).catch(() => {}); // warm the shared quote
    else costing.catch(() => {});
    const valuing = valueIntent(deps, intent, decoded);
    valuing.catch(() => {});
    const waived = (): boolean => simulationWaived(deps.policy(), principal, intent);
    const simulated = await simulate(deps, { intent, decoded, from, cost: costing, waived });
    const value = await valuing;
    const extraFacts = await transactionFacts(deps, {
      principal,
      intent,
      decoded,
      value,
      simulation: simulated.view,
      grants: simulated.grants,
    });
    lap('simulate');
    const decided = await this.decisions.decide({
      principal,
      intent,
      requestHash,
      idempotencyKey,
      value,
      cost: simulated.cost,
      extraFacts,
      stored: {
        simulation: simulated.view,
        swap: intent.swap?.view ?? null,
        deadline: intent.deadline === null ? null : new Date(intent.deadline * 1000),
      },
    });
    if (decided === null)
      return { intent: await winnerOfRace(deps.pool, principal.agentId, idempotencyKey, requestHash), created: false };
    lap('decide');
    deps.observe?.decided(decided, since(started));
    logDecided(deps.log, decided);
    if (decided.status !== 'approved') return { intent: decided, created: true };

    const signed = await this.sign(decided, intent.call, simulated.cost, requestId);
    lap('sign');
    if (signed.status !== 'signed') return { intent: signed, created: true };
    const submitted = await submitSigned(this.submitting, signed);
    lap('submit');
    return { intent: submitted, created: true };
  }

  /** Typed data, messages, EIP-7702 authorisations: the same decision lane and audit, a signature instead of a transaction. */
  private async processSignature(
    principal: Requester,
    body: SignatureIntentBody,
    requestHash: string,
    idempotencyKey: string | null,
    started: number,
    requestId: string | undefined,
    lap: (stage: IntentStage) => void,
  ): Promise<PathResult> {
    const { deps } = this;
    const prepared = await prepareSignature(deps, principal, body);
    lap('prepare');
    const decided =
      prepared.refusal !== null
        ? await recordRefusal(deps, principal, prepared, requestHash, idempotencyKey)
        : await this.decisions.decide(signatureDecisionRequest(principal, prepared, requestHash, idempotencyKey));
    if (decided === null)
      return { intent: await winnerOfRace(deps.pool, principal.agentId, idempotencyKey, requestHash), created: false };
    lap('decide');
    deps.observe?.decided(decided, since(started));
    logDecided(deps.log, decided);
    if (decided.status !== 'approved') return { intent: decided, created: true };
    let signed: IntentRecord;
    try {
      signed = await signSignature(deps, decided, prepared, requestId);
    } catch (error) {
      signed = await failIntent(deps, decided, error);
    }
    lap('sign');
    return { intent: signed, created: true };
  }

  private async resume(intentId: string, requestId: string | undefined): Promise<IntentRecord | null> {
    const { deps } = this;
    const checked = await checkApproved(deps.pool, intentId);
    if (!checked.go) return checked.intent;
    const intent = checked.intent;
    const call = callOf(intent);
    const [value, cost] = await Promise.all([
      deps.prices.value(intent.chainId, intent.asset, intent.amount, intent.decimals),
      estimateCost(deps, intent.from as Address, { chainId: intent.chainId, call }),
    ]);
    const reserved = await this.decisions.reserveApproved(intent, value, cost);
    if (reserved.status !== 'approved') return reserved;
    const signed = await this.sign(reserved, call, cost, requestId);
    if (signed.status !== 'signed') return signed;
    return submitSigned(this.submitting, signed);
  }

  /**
   * Hand the priced transaction to its address's signing lane, which signs and stores it with its nonce and audit
   * record atomically. Any failure leaves nothing signed that can leave, the intent failed with the step's code, and
   * its reservation released.
   */
  private async sign(
    intent: IntentRecord,
    call: SignRequest['call'],
    cost: Cost,
    requestId: string | undefined,
  ): Promise<IntentRecord> {
    try {
      return await this.signing.sign({ intent, call, gas: cost.gas, fees: cost.fees, requestId });
    } catch (error) {
      return failIntent(this.deps, intent, error);
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => {});
    return work;
  }
}
