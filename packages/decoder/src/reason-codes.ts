/**
 * Stable reason codes this package answers with. The gateway adds them to the reason catalogue
 * (packages/protocol/src/errors.ts and docs/errors.md); agents branch on them, so they are never renamed or reused.
 */
export const DECODE_ERROR_CODES = {
  'decode.invalid_input': 'The transaction fields are not a valid address, value and hex calldata.',
  'decode.malformed_calldata': 'Calldata with a known selector does not decode as that function (or is not its canonical ABI encoding).',
  'decode.malformed_typed_data': 'The EIP-712 payload is not a well-formed domain, types, primaryType and message.',
} as const;

export type DecodeErrorCode = keyof typeof DECODE_ERROR_CODES;

/** Reasons to refuse a signing request outright, before any policy runs. */
export const SIGNING_REFUSAL_CODES = {
  'chain.raw_hash_signing': 'The request signs an opaque 32-byte hash, which could authorise anything (a transaction, a Safe transaction, an order).',
  'chain.legacy_transaction': 'A legacy transaction without an EIP-155 chain id can be replayed on every chain.',
  'chain.chain_id_mismatch': "The transaction's or typed data's chain id differs from the intent's chain.",
  'chain.eip7702_authorization': 'An EIP-7702 authorisation list would delegate the account to other code.',
  'chain.malformed_signing_request': 'The signing request cannot be read well enough to check it.',
} as const;

export type SigningRefusalCode = keyof typeof SIGNING_REFUSAL_CODES;
