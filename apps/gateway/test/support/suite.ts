import { after, before } from 'node:test';
import { postIntent, startStack, type Stack, type StackOptions } from './stack.ts';

/** What a describe block's tests read once its `before` hook has run: the stack and an agent token for it. */
export interface StackWithToken {
  stack: Stack;
  token: string;
}

/**
 * One stack for the enclosing describe block: started (and an agent token issued) before its tests, stopped after
 * them. Call it directly inside `describe`; read `ctx.stack` and `ctx.token` inside the tests and later hooks.
 */
export function stackWithToken(options: StackOptions = {}): StackWithToken {
  const ctx = {} as StackWithToken;
  before(async () => {
    ctx.stack = await startStack(options);
    ctx.token = await ctx.stack.token();
  });
  after(async () => ctx.stack?.stop());
  return ctx;
}

/**
 * POST /v1/intents for a native transfer on the test chain: `{ type: 'transfer', chainId: 31337, to, asset: 'native',
 * amount, ...extra }`. Answers what postIntent answers.
 */
export function postNativeTransfer(
  baseUrl: string,
  token: string,
  to: string,
  amount: string,
  extra: Record<string, unknown> = {},
): ReturnType<typeof postIntent> {
  return postIntent(baseUrl, token, { type: 'transfer', chainId: 31337, to, asset: 'native', amount, ...extra });
}
