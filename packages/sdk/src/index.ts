/**
 * @clawd402/sdk — what an agent installs to use a Clawd402 gateway. No key material ever enters it: the gateway's
 * signer signs, under the operator's policy. The viem account adapter is `@clawd402/sdk/viem`.
 */
export { Clawd402Client, NETWORKS, isFinal, isLoopback } from './client.ts';
export type { Clawd402ClientOptions, ExecuteInput, ExecuteResult, WaitOptions } from './client.ts';
export { Clawd402ClientError, SDK_ERRORS, isClientError } from './errors.ts';
export type { ClientErrorCode, SdkErrorCode } from './errors.ts';
export { parseInstruction } from './instruction.ts';
export type {
  ApproveSummary,
  AssetEntry,
  AssetRegistry,
  InstructionOptions,
  ParsedInstruction,
} from './instruction.ts';
export type {
  ActionRequest,
  ContractCallRequest,
  SignMessageRequest,
  SignTypedDataRequest,
  SwapRequest,
  TransferRequest,
  WalletSelector,
} from './requests.ts';
export type { BudgetView, Decision, IntentView, SimulationView } from '@clawd402/protocol';
export { payingFetch, readPaymentRequired, readSettlement, selectRequirement } from './x402-fetch.ts';
export type {
  PayingFetchOptions,
  X402Payer,
  X402PaymentRequired,
  X402Requirement,
  X402Settlement,
} from './x402-fetch.ts';
