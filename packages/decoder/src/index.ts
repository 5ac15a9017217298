/**
 * @clawd402/decoder — what a transaction or a signature really does. Pure: no I/O, no environment, no clock. The
 * gateway passes in the transaction fields or the typed-data payload and gets back a call tree, a flat list of
 * effects for policy, flags (delegatecall, unlimited approval, truncated) and refusal reasons.
 */
export { decodeCall } from './decode-call.ts';
export type {
  DecodeCallFlags,
  DecodeCallParameters,
  DecodeCallResult,
  DecodedCall,
  DecodedCallNode,
  DecodeFailure,
} from './decode-call.ts';
export { decodeTypedData } from './decode-typed-data.ts';
export type { DecodedTypedData, DecodeTypedDataResult } from './decode-typed-data.ts';
export { normalizeTypedData, TypedDataError } from './typed-data/normalize-typed-data.ts';
export type { NormalizedTypedData, TypedDataDomainView, TypedDataField } from './typed-data/normalize-typed-data.ts';
export { TYPED_DATA_KINDS } from './typed-data/recognize-typed-data.ts';
export type { TypedDataKind } from './typed-data/recognize-typed-data.ts';
export { hasUnlimitedApproval, isUnlimitedAmount } from './effect.ts';
export type { Effect, EffectKind, TokenStandard } from './effect.ts';
export { CALL_KINDS } from './call-handler.ts';
export type { CallKind, CallOperation } from './call-handler.ts';
export {
  classifySigningRequest,
  isChainIdMismatch,
  isEip7702Transaction,
  isLegacyWithoutChainId,
  isRawHashMessage,
} from './signing-request.ts';
export type { SigningRefusal, SigningRequest, TransactionLike } from './signing-request.ts';
export { DECODE_ERROR_CODES, SIGNING_REFUSAL_CODES } from './reason-codes.ts';
export type { DecodeErrorCode, SigningRefusalCode } from './reason-codes.ts';
export { parseMultiSend } from './multi-send.ts';
export type { MultiSendEntry } from './multi-send.ts';
export { PERMIT2_ADDRESS, permit2Abi } from './abi/permit2.abi.ts';
export { MULTICALL3_ADDRESS } from './abi/batch.abi.ts';
export {
  MAX_CALL_DEPTH,
  MAX_CALL_NODES,
  MAX_TYPED_DATA_DEPTH,
  MAX_TYPED_DATA_FIELDS,
  MAX_TYPED_DATA_TYPES,
  MAX_TYPED_DATA_VALUES,
} from './limits.ts';
