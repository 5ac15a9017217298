import { Clawd402Error, type IntentBody } from '@clawd402/protocol';
import type { AgentContext } from '../domain/agent.ts';

/**
 * Stage 1 — authorize. The HTTP layer has already authenticated the agent's token, re-checked its API key (unrevoked,
 * unexpired, agent enabled) and its route permission (plugins/app/auth.ts). Here the key's own scopes decide whether
 * it may ask for this intent at all: its chain and its type (`key_scope_denied`). Nothing is read or written.
 */
export function authorize(agent: AgentContext, body: Pick<IntentBody, 'chainId' | 'type'>): void {
  const { chains, types } = agent.scopes;
  if ((chains && !chains.includes(body.chainId)) || (types && !types.includes(body.type))) {
    throw new Clawd402Error('key_scope_denied', undefined, { details: { chainId: body.chainId, type: body.type } });
  }
}
