import { formatAmount, type IntentView } from '@clawd402/protocol';
import type { IntentRecord } from '../../services/intents-service.ts';

/**
 * An intent as the HTTP API shows it (the protocol's `IntentView`): amounts in display units, dates as ISO strings,
 * swap, simulation and signing only when present. For transfers `to` is the recipient. Used by /v1/intents and the
 * admin routes that answer intents.
 */
export function toIntentView(intent: IntentRecord): IntentView {
  return {
    id: intent.id,
    status: intent.status,
    type: intent.type,
    chainId: intent.chainId,
    from: intent.from,
    to: intent.type === 'transfer' ? intent.recipient : intent.to,
    asset: intent.asset,
    amount: formatAmount(intent.amount, intent.decimals),
    data: intent.type === 'contract_call' ? intent.data : null,
    memo: intent.memo,
    decision: intent.decision,
    nonce: intent.nonce,
    txHash: intent.txHash,
    error: intent.error,
    createdAt: intent.createdAt.toISOString(),
    updatedAt: intent.updatedAt.toISOString(),
    ...(intent.swap ? { swap: intent.swap } : {}),
    ...(intent.simulation ? { simulation: intent.simulation } : {}),
    ...(intent.signing ? { signing: intent.signing } : {}),
    ...(intent.origin ? { origin: intent.origin } : {}),
    ...(intent.x402
      ? {
          x402: {
            ...intent.x402,
            settlement: intent.status === 'confirmed' ? 'settled' : intent.status === 'expired' ? 'expired' : 'pending',
          },
        }
      : {}),
  };
}
