import type { IntentView } from '@clawd402/protocol';
import { Clawd402ClientError } from './errors.ts';
import type { Transport } from './transport.ts';

/** The most ids one long-poll carries (`GET /v1/intents?ids=…`, docs/waiting.md). */
const IDS_PER_POLL = 100;
/**
 * The longest single long-poll. `GET /v1/intents?ids=…&wait=N` answers at once when one of the intents is settled and
 * otherwise as soon as any of them changes status from what it was when the poll arrived. Waiting for settled intents
 * (the default) nothing is missed between two polls, so a poll may be long; waiting for another status (`until`), a
 * change between two polls is seen only when the next one times out, so the polls are short.
 */
const SETTLED_WAIT_SECONDS = 30;
const OTHER_WAIT_SECONDS = 5;

export interface WaitRule {
  timeoutMs: number;
  done: (intent: IntentView) => boolean;
  /** `done` is "settled" (the gateway's own rule for answering at once). */
  settled: boolean;
}

/**
 * Wait for several intents at once: one long-poll for up to 100 of them (the intents not yet done), so an agent
 * waiting on many intents costs one request at a time, not one per intent. Retry-After and transient failures are the
 * transport's.
 */
export async function waitForIntents(
  transport: Transport,
  ids: readonly string[],
  rule: WaitRule,
): Promise<IntentView[]> {
  const until = Date.now() + rule.timeoutMs;
  const latest = new Map<string, IntentView>();
  const distinct = [...new Set(ids)];
  const chunks: string[][] = [];
  for (let i = 0; i < distinct.length; i += IDS_PER_POLL) chunks.push(distinct.slice(i, i + IDS_PER_POLL));
  try {
    await Promise.all(chunks.map((chunk) => waitForChunk(transport, chunk, rule, until, latest)));
    return ids.map((id) => latest.get(id)!);
  } catch (error) {
    if (error instanceof Clawd402ClientError && error.code === 'wait_timeout') {
      throw new Clawd402ClientError('wait_timeout', {
        message: error.message,
        details: { intents: ids.map((id) => latest.get(id) ?? null) },
      });
    }
    throw error;
  }
}

async function waitForChunk(
  transport: Transport,
  ids: readonly string[],
  rule: WaitRule,
  until: number,
  latest: Map<string, IntentView>,
): Promise<void> {
  let pending = [...ids];
  let seconds = 0; // the first read does not wait
  for (;;) {
    const query = `ids=${pending.join(',')}${seconds > 0 ? `&wait=${seconds}` : ''}`;
    const { body } = await transport.request<{ items: IntentView[] }>('GET', `/v1/intents?${query}`, {
      timeoutMs: seconds * 1000 + 15_000,
    });
    for (const intent of body.items) latest.set(intent.id, intent);
    const missing = pending.find((id) => !latest.has(id));
    if (missing !== undefined) {
      throw new Clawd402ClientError('not_found', { status: 404, message: `No intent ${missing} for this agent.` });
    }
    pending = pending.filter((id) => !rule.done(latest.get(id)!));
    if (pending.length === 0) return;
    seconds = Math.min(
      rule.settled ? SETTLED_WAIT_SECONDS : OTHER_WAIT_SECONDS,
      Math.floor((until - Date.now()) / 1000),
    );
    if (seconds < 1) {
      const still = latest.get(pending[0]!)!;
      throw new Clawd402ClientError('wait_timeout', { message: `Intent ${still.id} is still ${still.status}.` });
    }
  }
}
