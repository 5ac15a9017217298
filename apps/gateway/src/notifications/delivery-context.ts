import type { DestinationRules } from './destination-policy.ts';

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
