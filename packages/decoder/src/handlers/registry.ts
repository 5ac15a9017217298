import type { Hex } from 'viem';
import type { CallHandler } from '../call-handler.ts';
import { BATCH_HANDLERS } from './batch.handlers.ts';
import { PERMIT2_HANDLERS } from './permit2.handlers.ts';
import { TOKEN_HANDLERS } from './token.handlers.ts';

/** Every function the decoder understands, by lowercase selector. Two handlers never share a selector. */
export const CALL_HANDLERS: ReadonlyMap<Hex, CallHandler> = (() => {
  const map = new Map<Hex, CallHandler>();
  for (const handler of [...TOKEN_HANDLERS, ...PERMIT2_HANDLERS, ...BATCH_HANDLERS]) {
    const existing = map.get(handler.selector);
    if (existing !== undefined) {
      throw new Error(`selector ${handler.selector} of ${handler.item.name} is already read as ${existing.item.name}`);
    }
    map.set(handler.selector, handler);
  }
  return map;
})();
