import Type, { type Static } from 'typebox';

/**
 * Wire schemas of the agent-facing intent API. Shapes only: semantic checks (checksums, amounts against decimals,
 * configured chains) happen in the gateway's normalise stage with the helpers in values.ts, so each gets its own code.
 */
const ChainId = Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 });
const AddressString = Type.String({ minLength: 1, maxLength: 64 });
const DecimalString = Type.String({ minLength: 1, maxLength: 100 });
const Memo = Type.String({ maxLength: 256 });
/** Unix seconds: after it nothing is signed or resubmitted for the intent, which ends `expired` (docs/submission.md). */
const Deadline = Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 });

export const TransferIntentBody = Type.Object(
  {
    type: Type.Literal('transfer'),
    chainId: ChainId,
    to: AddressString,
    asset: AddressString, // "native" or a token address
    amount: DecimalString,
    memo: Type.Optional(Memo),
    deadline: Type.Optional(Deadline),
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
    deadline: Type.Optional(Deadline),
  },
  { additionalProperties: false },
);

/**
 * A swap through the DEX router configured for the chain (Uniswap V2-style): sell exactly `inputAmount` of
 * `inputAsset` ("native" or a token) for at least the quote less `maxSlippagePercent` (a decimal string such as
 * "0.5", at most two fractional digits) of `outputAsset`, mined before `deadline` (unix seconds). docs/swaps.md.
 */
export const SwapIntentBody = Type.Object(
  {
    type: Type.Literal('swap'),
    chainId: ChainId,
    inputAsset: AddressString,
    inputAmount: DecimalString,
    outputAsset: AddressString,
    maxSlippagePercent: Type.String({ minLength: 1, maxLength: 8 }),
    deadline: Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 }),
    memo: Type.Optional(Memo),
  },
  { additionalProperties: false },
);

// ── Signature intents (docs/signatures.md): nothing is broadcast; the signature is the result. ─────────────────────

/** The most bytes a `message` intent signs (text as UTF-8, or raw). */
export const MAX_MESSAGE_BYTES = 16384;

/**
 * EIP-712 typed data to sign (`eth_signTypedData_v4`): `{domain, types, primaryType, message}`. Shapes only here; the
 * gateway validates it strictly with `decodeTypedData` (@clawd402/decoder) and refuses anything it cannot read.
 */
export const TypedDataIntentBody = Type.Object(
  {
    type: Type.Literal('typed_data'),
    chainId: ChainId,
    typedData: Type.Object(
      {
        domain: Type.Record(Type.String(), Type.Unknown()),
        types: Type.Record(
          Type.String({ maxLength: 256 }),
          Type.Array(
            Type.Object(
              { name: Type.String({ maxLength: 256 }), type: Type.String({ maxLength: 256 }) },
              { additionalProperties: false },
            ),
            { maxItems: 256 },
          ),
        ),
        primaryType: Type.String({ minLength: 1, maxLength: 256 }),
        message: Type.Record(Type.String(), Type.Unknown()),
      },
      { additionalProperties: false },
    ),
    memo: Type.Optional(Memo),
  },
  { additionalProperties: false },
);

/**
 * A message to sign EIP-191 style (`personal_sign`): UTF-8 text, or `{ raw: '0x…' }` bytes. An opaque 32-byte hash
 * (what `eth_sign` would sign) is refused with `chain.raw_hash_signing`.
 */
export const MessageIntentBody = Type.Object(
  {
    type: Type.Literal('message'),
    chainId: ChainId,
    message: Type.Union([
      Type.String({ minLength: 1, maxLength: MAX_MESSAGE_BYTES }),
      Type.Object(
        { raw: Type.String({ pattern: '^0x(?:[0-9a-fA-F]{2})+$', maxLength: 2 + 2 * MAX_MESSAGE_BYTES }) },
        { additionalProperties: false },
      ),
    ]),
    memo: Type.Optional(Memo),
  },
  { additionalProperties: false },
);

/**
 * An EIP-7702 authorisation (delegate the signing account to `delegate`'s code). `chainId` may be 0, which EIP-7702
 * makes valid on every chain. Refused with `chain.eip7702_authorization` unless a rule names the delegate in
 * `authorization_delegate`; chain id 0 is always refused (docs/signatures.md).
 */
export const AuthorizationIntentBody = Type.Object(
  {
    type: Type.Literal('authorization'),
    chainId: Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1 }),
    delegate: AddressString,
    nonce: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1 })),
    memo: Type.Optional(Memo),
  },
  { additionalProperties: false },
);

/** Most characters of an x402 resource URL the gateway reads. */
export const MAX_X402_RESOURCE_CHARS = 2048;
/** Most characters of the JSON of one x402 payment requirement the gateway reads. */
export const MAX_X402_REQUIREMENTS_CHARS = 8192;

/**
 * An x402 payment (docs/x402.md): pay `resource` what one of its `402 Payment Required` requirements asks, with an
 * EIP-3009 `transferWithAuthorization` the gateway builds and has signed. `requirements` is the one requirement the
 * client picked (`scheme`, `network`, `asset`, `amount` (v1: `maxAmountRequired`), `payTo`, `maxTimeoutSeconds`,
 * `extra.name`/`extra.version`), checked strictly by the gateway so that each hostile shape gets its own code.
 */
export const X402PaymentIntentBody = Type.Object(
  {
    type: Type.Literal('x402_payment'),
    chainId: ChainId,
    /** The URL that answered 402 (http or https). */
    resource: Type.String({ minLength: 1 }),
    /** 2 (default) or 1: the protocol version of the 402 the requirement came from. */
    x402Version: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)])),
    requirements: Type.Unknown(),
    memo: Type.Optional(Memo),
  },
  { additionalProperties: false },
);

/** Intents that end in a transaction. */
export const TransactionIntentBody = Type.Union([TransferIntentBody, ContractCallIntentBody, SwapIntentBody]);
/** Intents that end in a signature (no transaction): typed data, messages, EIP-7702 authorisations, x402 payments. */
export const SignatureIntentBody = Type.Union([
  TypedDataIntentBody,
  MessageIntentBody,
  AuthorizationIntentBody,
  X402PaymentIntentBody,
]);
/** Every body `POST /v1/intents` accepts: the transaction intents, then the signature intents. */
export const IntentBody = Type.Union([...TransactionIntentBody.anyOf, ...SignatureIntentBody.anyOf]);
export type TransferIntentBody = Static<typeof TransferIntentBody>;
export type ContractCallIntentBody = Static<typeof ContractCallIntentBody>;
export type SwapIntentBody = Static<typeof SwapIntentBody>;
export type TypedDataIntentBody = Static<typeof TypedDataIntentBody>;
export type MessageIntentBody = Static<typeof MessageIntentBody>;
export type AuthorizationIntentBody = Static<typeof AuthorizationIntentBody>;
export type X402PaymentIntentBody = Static<typeof X402PaymentIntentBody>;
export type TransactionIntentBody = Static<typeof TransactionIntentBody>;
export type SignatureIntentBody = Static<typeof SignatureIntentBody>;
export type IntentBody = Static<typeof IntentBody>;

/** The intent kinds that end in a signature rather than a transaction. */
export const SIGNATURE_INTENT_TYPES = ['typed_data', 'message', 'authorization', 'x402_payment'] as const;
export type SignatureIntentType = (typeof SIGNATURE_INTENT_TYPES)[number];

/** True for a body that asks for a signature (typed data, message, authorisation) rather than a transaction. */
export function isSignatureIntentBody(body: IntentBody): body is SignatureIntentBody {
  return (SIGNATURE_INTENT_TYPES as readonly string[]).includes(body.type);
}

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

/**
 * What a `require_human_approval` decision asks for (see docs/policy.md): who is notified, how long each stage waits
 * (seconds), and how many of whom must approve. Absent on other decisions.
 */
export const DecisionApproval = Type.Object(
  {
    notification: Type.Object(
      {
        channels: Type.Array(Type.String()),
        timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
        escalation: Type.Optional(
          Type.Object(
            { channels: Type.Array(Type.String()), timeoutSeconds: Type.Integer({ minimum: 1 }) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    quorum: Type.Object(
      {
        required: Type.Integer({ minimum: 1 }),
        approvers: Type.Optional(Type.Array(Type.String())),
        roles: Type.Optional(Type.Array(Type.String())),
        excludeAgentOwner: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type DecisionApproval = Static<typeof DecisionApproval>;

/**
 * One budget the intent counts against, after this intent (USD as decimal strings). `scope` is `global`, `agent` or
 * `api_key` (limits set with /admin/costs), or `rule:<name>` (a policy rule's own `daily_limit_usd`/`hourly_limit_usd`).
 */
export const BudgetView = Type.Object(
  {
    scope: Type.String(),
    window: Type.Union([Type.Literal('24h'), Type.Literal('1h')]),
    limitUsd: Type.String(),
    spentUsd: Type.String(),
    remainingUsd: Type.String(),
    /** When the oldest spend in the window stops counting; null when nothing is in the window. */
    freesAt: Type.Union([Type.String(), Type.Null()]),
    /** A policy rule's count limit in this window (`daily_count_limit`, `hourly_count_limit`), and what is left. */
    limitCount: Type.Optional(Type.Integer()),
    usedCount: Type.Optional(Type.Integer()),
    remainingCount: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);

export type BudgetView = Static<typeof BudgetView>;

export const DecisionMoney = Type.Object(
  {
    /** Value of the intent in USD; null when it could not be priced (the intent is then refused). */
    valueUsd: Type.Union([Type.String(), Type.Null()]),
    /** Worst-case network fee in USD (gas limit × max fee per gas). */
    feeUsd: Type.Union([Type.String(), Type.Null()]),
    /** What was reserved against the budgets (value + worst-case fee); "0" when nothing was. */
    reservedUsd: Type.String(),
    /** Worst circuit-breaker level over the intent's scopes. */
    breaker: Type.Union([Type.Literal('green'), Type.Literal('yellow'), Type.Literal('orange'), Type.Literal('red')]),
    budgets: Type.Array(BudgetView),
  },
  { additionalProperties: false },
);

export const Decision = Type.Object(
  {
    action: DecisionAction,
    policy: Type.Union([Type.String(), Type.Null()]),
    policySetHash: Type.String(),
    reasons: Type.Array(Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false })),
    approval: Type.Optional(DecisionApproval),
    /** The money side of the decision: USD value, worst-case fee, breaker level, and what is left of each budget. */
    money: Type.Optional(DecisionMoney),
  },
  { additionalProperties: false },
);
export type Decision = Static<typeof Decision>;

/** One asset movement seen in a simulation; `amount` in base units, `tokenId` for NFTs. */
export const AssetFlowView = Type.Object(
  {
    asset: Type.String(),
    amount: Type.String(),
    tokenId: Type.Optional(Type.String()),
    /** The other side: who receives an outflow, who sends an inflow. */
    counterparty: Type.String(),
  },
  { additionalProperties: false },
);

/** What simulating the transaction before the decision showed (docs/simulation.md). */
export const SimulationView = Type.Object(
  {
    /** `passed`: simulated, no revert, nothing unexpected; `skipped`: SIMULATION=off. */
    status: Type.Union([Type.Literal('passed'), Type.Literal('skipped')]),
    /** The block the simulation ran on top of (decimal string); null when skipped. */
    blockNumber: Type.Union([Type.String(), Type.Null()]),
    gasUsed: Type.Union([Type.String(), Type.Null()]),
    /** Assets leaving the signer, and arriving at it. */
    outflows: Type.Array(AssetFlowView),
    inflows: Type.Array(AssetFlowView),
    /** Approvals the signer grants (Approval / ApprovalForAll events with the signer as owner). */
    approvals: Type.Array(
      Type.Object(
        {
          asset: Type.String(),
          spender: Type.String(),
          amount: Type.Union([Type.String(), Type.Null()]),
          unlimited: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
    ),
    /** Every address an outflow went to. */
    recipients: Type.Array(Type.String()),
    /** USD of outflows minus inflows (decimal string); null when an asset has no usable price. */
    netOutflowUsd: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type SimulationView = Static<typeof SimulationView>;

/** What the gateway derived for a swap: route, quote, bounds (docs/swaps.md). Amounts in the assets' units ("0.1"). */
export const SwapView = Type.Object(
  {
    router: Type.String(),
    inputAsset: Type.String(),
    inputAmount: Type.String(),
    outputAsset: Type.String(),
    /** Token path through the router (native legs as the router's WETH). */
    path: Type.Array(Type.String()),
    /** getAmountsOut at decision time. */
    quotedOutput: Type.String(),
    /** From the asset registry's prices, when both assets have one; null otherwise. */
    referenceOutput: Type.Union([Type.String(), Type.Null()]),
    /** The on-chain `amountOutMin`: the larger of the quote and the reference, less maxSlippagePercent. */
    minOutput: Type.String(),
    maxSlippagePercent: Type.String(),
    /** Unix seconds; passed on chain, and the gateway expires the intent after it. */
    deadline: Type.Integer(),
  },
  { additionalProperties: false },
);
export type SwapView = Static<typeof SwapView>;

/**
 * What a signature intent asked to sign and, once `signed`, the signature (docs/signatures.md). `request` is the typed
 * data, `{ text }` / `{ raw }` of a message, or `{ chainId, delegate, nonce }` of an EIP-7702 authorisation.
 */
export const SigningView = Type.Object(
  {
    operation: Type.Union([
      Type.Literal('typed_data'),
      Type.Literal('personal_sign'),
      Type.Literal('eip7702_authorization'),
    ]),
    request: Type.Unknown(),
    /** The digest the signing ticket bound (EIP-712 hash, EIP-191 hash); null when nothing was to be signed. */
    digest: Type.Union([Type.String(), Type.Null()]),
    /** 65 bytes `r ‖ s ‖ v` (v = 27/28) as hex, once signed; null otherwise. */
    signature: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type SigningView = Static<typeof SigningView>;

/** The surfaces an intent can arrive through (docs/mcp.md, docs/json-rpc.md). */
export const INTENT_CHANNELS = ['rest', 'rpc', 'mcp', 'x402'] as const;
export type IntentChannel = (typeof INTENT_CHANNELS)[number];

/**
 * Where an intent came from: the surface, the MCP tool that started it (MCP only) and the client's self-declared
 * name (MCP `clientInfo.name`; informative, never an identity). The policy reads `channel` and `tool` (`origin`).
 */
export const IntentOrigin = Type.Object(
  {
    channel: Type.Union([Type.Literal('rest'), Type.Literal('rpc'), Type.Literal('mcp'), Type.Literal('x402')]),
    tool: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    client: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type IntentOrigin = Static<typeof IntentOrigin>;
/**
 * x402 payments only (docs/x402.md): what is paid to whom for which resource, the EIP-3009 authorisation the gateway
 * built (integers as decimal strings, as x402's `exact` payload carries them) and where its settlement stands:
 * `pending` until the transfer is seen on chain (`settled`), or `expired` when its validity window ended unused.
 */
export const X402View = Type.Object(
  {
    resource: Type.String(),
    host: Type.String(),
    x402Version: Type.Union([Type.Literal(1), Type.Literal(2)]),
    network: Type.String(),
    payee: Type.String(),
    asset: Type.String(),
    amount: Type.String(),
    authorization: Type.Object(
      {
        from: Type.String(),
        to: Type.String(),
        value: Type.String(),
        validAfter: Type.String(),
        validBefore: Type.String(),
        nonce: Type.String(),
      },
      { additionalProperties: false },
    ),
    settlement: Type.Union([Type.Literal('pending'), Type.Literal('settled'), Type.Literal('expired')]),
  },
  { additionalProperties: false },
);
export type X402View = Static<typeof X402View>;

export const IntentView = Type.Object(
  {
    id: Type.String(),
    status: Type.Unsafe<IntentStatus>({ type: 'string', enum: [...INTENT_STATUSES] }),
    type: Type.Union([
      Type.Literal('transfer'),
      Type.Literal('contract_call'),
      Type.Literal('swap'),
      Type.Literal('typed_data'),
      Type.Literal('message'),
      Type.Literal('authorization'),
      Type.Literal('x402_payment'),
    ]),
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
    /** Swaps only: route, quote and bounds. */
    swap: Type.Optional(SwapView),
    /** What simulating the transaction showed before the decision; absent for intents recorded before simulation. */
    simulation: Type.Optional(SimulationView),
    /** Signature intents only: what was to be signed and the signature (docs/signatures.md). */
    signing: Type.Optional(SigningView),
    /** The surface the intent arrived through; absent for intents recorded before it was kept (migration 0022). */
    origin: Type.Optional(IntentOrigin),
    /** x402 payments only: the payment and its authorisation (docs/x402.md). */
    x402: Type.Optional(X402View),
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
