import { maxNetOutflowUsdCondition } from './max-net-outflow-usd.condition.ts';
import { newApprovalsCondition } from './new-approvals.condition.ts';
import { recipientsTouchedWhitelistCondition } from './recipients-touched-whitelist.condition.ts';
import { simulationCondition } from './simulation.condition.ts';
import type { ConditionDefinition } from '../condition.ts';
import { agentCondition } from './agent.condition.ts';
import { apiKeyCondition } from './api-key.condition.ts';
import { assetCondition } from './asset.condition.ts';
import { authorizationDelegateCondition } from './authorization-delegate.condition.ts';
import { chainCondition } from './chain.condition.ts';
import { contractVerifiedCondition } from './contract-verified.condition.ts';
import { dailyCountLimitCondition } from './daily-count-limit.condition.ts';
import { dailyLimitUsdCondition } from './daily-limit-usd.condition.ts';
import { functionArgsCondition } from './function-args.condition.ts';
import { functionSelectorCondition } from './function-selector.condition.ts';
import { hourlyCountLimitCondition } from './hourly-count-limit.condition.ts';
import { hourlyLimitUsdCondition } from './hourly-limit-usd.condition.ts';
import { maxValueUsdCondition } from './max-value-usd.condition.ts';
import { maxValueCondition } from './max-value.condition.ts';
import { minValueUsdCondition } from './min-value-usd.condition.ts';
import { originCondition } from './origin.condition.ts';
import { recipientBlacklistCondition } from './recipient-blacklist.condition.ts';
import { recipientWhitelistCondition } from './recipient-whitelist.condition.ts';
import { spenderBlacklistCondition } from './spender-blacklist.condition.ts';
import { spenderWhitelistCondition } from './spender-whitelist.condition.ts';
import { timeWindowCondition } from './time-window.condition.ts';
import { transactionTypeCondition } from './transaction-type.condition.ts';
import { typedDataDomainCondition } from './typed-data-domain.condition.ts';
import { typedDataPrimaryTypeCondition } from './typed-data-primary-type.condition.ts';
import { typedDataWithoutChainIdCondition } from './typed-data-without-chain-id.condition.ts';
import { unlimitedApprovalCondition } from './unlimited-approval.condition.ts';
import { x402HostCondition } from './x402-host.condition.ts';
import { x402PayeeCondition } from './x402-payee.condition.ts';

/**
 * Every condition of the policy language, in documentation order. Adding a condition means one file under
 * `src/conditions/` and one line here; the loader, evaluator, JSON Schema, docs and linter read this list.
 */
export const CONDITIONS: readonly ConditionDefinition[] = Object.freeze([
  transactionTypeCondition,
  assetCondition,
  recipientWhitelistCondition,
  recipientBlacklistCondition,
  maxValueCondition,
  chainCondition,
  agentCondition,
  apiKeyCondition,
  originCondition,
  minValueUsdCondition,
  maxValueUsdCondition,
  dailyLimitUsdCondition,
  hourlyLimitUsdCondition,
  dailyCountLimitCondition,
  hourlyCountLimitCondition,
  contractVerifiedCondition,
  functionSelectorCondition,
  functionArgsCondition,
  spenderWhitelistCondition,
  spenderBlacklistCondition,
  unlimitedApprovalCondition,
  typedDataPrimaryTypeCondition,
  typedDataDomainCondition,
  typedDataWithoutChainIdCondition,
  authorizationDelegateCondition,
  x402HostCondition,
  x402PayeeCondition,
  simulationCondition,
  maxNetOutflowUsdCondition,
  newApprovalsCondition,
  recipientsTouchedWhitelistCondition,
  timeWindowCondition,
]);

const byKey: ReadonlyMap<string, ConditionDefinition> = new Map(CONDITIONS.map((c) => [c.key, c]));

/** Look a condition up by the key a rule writes; undefined for an unknown key. */
export function getCondition(key: string): ConditionDefinition | undefined {
  return byKey.get(key);
}
