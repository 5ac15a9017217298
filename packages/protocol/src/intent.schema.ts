import Type, { type Static } from 'typebox';

/**
 * Wire schemas of the agent-facing intent API. Shapes only: semantic checks (checksums, amounts against decimals,
 * configured chains) happen in the gateway's normalise stage with the helpers in values.ts, so each gets its own code.
 */
const ChainId = Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 });
const AddressString = Type.String({ minLength: 1, maxLength: 64 });
const DecimalString = Type.String({ minLength: 1, maxLength: 100 });
const Memo = Type.String({ maxLength: 256 });

export const TransferIntentBody = Type.Object(
  {
    type: Type.Literal('transfer'),
    chainId: ChainId,
    to: AddressString,
    asset: AddressString, // "native" or a token address
    amount: DecimalString,
    memo: Type.Optional(Memo),
  },
  { additionalProperties: false },
);

export const ContractCallIntentBody = Type.Object(
  {
    type: Type.Literal('contract_call'),
    chainId: ChainId,
    to: AddressString,
    data: Type.String({ minLength: 2, maxLength: 131072 }),
    value: Type.Optional(DecimalString),
    memo: Type.Optional(Memo),
  },
  { additionalProperties: false },
);

export const IntentBody = Type.Union([TransferIntentBody, ContractCallIntentBody]);
export type TransferIntentBody = Static<typeof TransferIntentBody>;
export type ContractCallIntentBody = Static<typeof ContractCallIntentBody>;
export type IntentBody = Static<typeof IntentBody>;

export const INTENT_STATUSES = [
  'received',
  'rejected',
  'pending_approval',
  'approved',
  'signed',
  'submitted',
  'confirmed',
  'failed',
  'dropped',
  'replaced',
  'cancelled',
  'expired',
] as const;
export type IntentStatus = (typeof INTENT_STATUSES)[number];

export const DecisionAction = Type.Union([
  Type.Literal('reject'),
  Type.Literal('auto_approve'),
  Type.Literal('require_human_approval'),
]);
export type DecisionAction = Static<typeof DecisionAction>;

export const Decision = Type.Object(
  {
    action: DecisionAction,
    policy: Type.Union([Type.String(), Type.Null()]),
    policySetHash: Type.String(),
    reasons: Type.Array(Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type Decision = Static<typeof Decision>;

export const IntentView = Type.Object(
  {
    id: Type.String(),
    status: Type.Unsafe<IntentStatus>({ type: 'string', enum: [...INTENT_STATUSES] }),
    type: Type.Union([Type.Literal('transfer'), Type.Literal('contract_call')]),
    chainId: Type.Integer(),
    from: Type.Union([Type.String(), Type.Null()]),
    to: Type.String(),
    asset: Type.String(),
    amount: Type.String(),
    data: Type.Union([Type.String(), Type.Null()]),
    memo: Type.Union([Type.String(), Type.Null()]),
    decision: Type.Union([Decision, Type.Null()]),
    nonce: Type.Union([Type.Integer(), Type.Null()]),
    txHash: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { additionalProperties: false },
);
export type IntentView = Static<typeof IntentView>;

export const ErrorBody = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    intent: Type.Optional(IntentView),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;
