import type { IntentOrigin } from '@clawd402/protocol';
import type { Address } from 'viem';

/** What a key may be used for; null means any. */
export interface KeyScopes {
  chains: number[] | null;
  types: string[] | null;
}

/** What an authenticated agent acts with: its identity and the signer key it is bound to. */
export interface AgentContext {
  agentId: string;
  apiKeyId: string;
  signerAddress: Address;
  /** What the API key may be used for; null means any. */
  scopes: KeyScopes;
}

/** An agent submitting an intent through one surface: who it is, and where the intent came from. */
export interface Requester extends AgentContext {
  origin: IntentOrigin;
}
