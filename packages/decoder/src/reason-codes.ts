/**
 * The reason codes this package answers with. They live in the one catalogue, packages/protocol/src/errors.ts
 * (`DECODE_ERRORS`, `SIGNING_REFUSALS`), documented in docs/errors.md; agents branch on them, so they are never
 * renamed or reused. Re-exported here under this package's names.
 */
export {
  DECODE_ERRORS as DECODE_ERROR_CODES,
  SIGNING_REFUSALS as SIGNING_REFUSAL_CODES,
  type DecodeErrorCode,
  type SigningRefusalCode,
} from '@clawd402/protocol';
