import { after, before } from 'node:test';
import type { Address } from 'viem';
import { SignerClient, type KeyListing } from '@clawd402/signer-client';
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

/** The signer's own usage counters for the key of `address` (what it has signed, per operation). */
export async function signerKeyUsage(signer: SignerClient, address: Address): Promise<KeyListing['usage']> {
  return (await signer.listKeys()).keys.find((k) => k.address.toLowerCase() === address.toLowerCase())!.usage;
}

/** What a describe block's tests read with `stackWithSigner`: `StackWithToken`'s, and a client of the stack's signer. */
export interface StackWithSigner extends StackWithToken {
  signer: SignerClient;
  /** The signer's usage counters for the stack's key (signerKeyUsage). */
  usage(): Promise<KeyListing['usage']>;
}

/**
 * `stackWithToken`, plus a client of the stack's signer on its socket (closed before the stack stops), for tests that
 * read what the signer itself has signed.
 */
export function stackWithSigner(options: StackOptions = {}): StackWithSigner {
  const ctx = { usage: () => signerKeyUsage(ctx.signer, ctx.stack.signerAddress) } as StackWithSigner;
  before(async () => {
    ctx.stack = await startStack(options);
    ctx.token = await ctx.stack.token();
    ctx.signer = new SignerClient({ socketPath: ctx.stack.env.SIGNER_SOCKET! });
  });
  after(async () => {
    await ctx.signer?.close();
    await ctx.stack?.stop();
  });
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
