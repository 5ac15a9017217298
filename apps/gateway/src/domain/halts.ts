import { Clawd402Error } from '@clawd402/protocol';

/** A pausable scope: `agent:<uuid>`, `key:<uuid>` (an API key's id) or `chain:<id>` (docs/killswitch.md). */
export type PauseScope = `agent:${string}` | `key:${string}` | `chain:${number}`;

/** What the kill switch and the pauses say right now, as this process last read them (intent-path stage 1). */
export interface HaltView {
  killSwitchEngaged(): boolean;
  isPaused(scope: PauseScope): boolean;
}

/** The scopes an intent of this agent, key and chain falls under, in the order their refusals are reported. */
export function scopesOf(principal: { agentId: string; apiKeyId: string | null }, chainId: number): PauseScope[] {
  return [
    `agent:${principal.agentId}`,
    ...(principal.apiKeyId ? [`key:${principal.apiKeyId}` as const] : []),
    `chain:${chainId}`,
  ];
}

const PAUSE_CODES = { agent: 'agent_paused', key: 'api_key_paused', chain: 'chain_paused' } as const;

/**
 * The refusal for an intent under these facts, or null: the kill switch first (`killswitch_engaged`), then the first
 * paused scope (`agent_paused`, `api_key_paused`, `chain_paused`).
 */
export function haltError(killSwitch: boolean, paused: readonly PauseScope[]): Clawd402Error | null {
  if (killSwitch) return new Clawd402Error('killswitch_engaged');
  const first = paused[0];
  if (first === undefined) return null;
  const kind = first.slice(0, first.indexOf(':')) as keyof typeof PAUSE_CODES;
  return new Clawd402Error(PAUSE_CODES[kind], undefined, { details: { scope: first } });
}

/** Refuse an intent whose agent, key or chain is halted, as `view` says (nothing is read or written). */
export function assertNotHalted(
  view: HaltView,
  principal: { agentId: string; apiKeyId: string | null },
  chainId: number,
): void {
  const error = haltError(
    view.killSwitchEngaged(),
    scopesOf(principal, chainId).filter((scope) => view.isPaused(scope)),
  );
  if (error) throw error;
}
