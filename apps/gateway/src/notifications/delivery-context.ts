import { checkDestination, type DestinationRules } from './destination-policy.ts';
import { postPinned, type PostResult } from './pinned-http.ts';

/** What a sender needs besides the message and the channel: the destination rules, limits, the clock. */
export interface DeliveryContext {
  rules: DestinationRules;
  timeoutMs: number;
  /** The dispatcher's clock at the attempt (injectable in tests): signature timestamps use it. */
  now: Date;
  consoleBaseUrl: string | null;
}

/** Sent with every HTTP delivery. */
export const USER_AGENT = 'Clawd402-Notifier/1';

/**
 * POST a JSON body to a channel's URL the way every HTTP channel does: the URL is checked against the destination
 * rules (SSRF) and the request goes to the address that check vetted (`postPinned`), with the notifier's user agent
 * and any channel headers (e.g. a webhook's signature).
 */
export async function postJsonToChannel(
  url: string,
  body: string,
  ctx: DeliveryContext,
  headers: Record<string, string> = {},
): Promise<PostResult> {
  const destination = await checkDestination(url, ctx.rules);
  return postPinned(
    destination,
    body,
    { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
    ctx.timeoutMs,
  );
}
