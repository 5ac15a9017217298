import { setFlagsFromString } from 'node:v8';

/**
 * Set V8's heap growing factor for this process: after each full garbage collection the old generation may grow to
 * (1 + percent / 100) times what it left live before the next one; 0 gives the choice back to V8, which raises the
 * factor up to fourfold when collections are cheap next to the work between them, as under load (HEAP_GROWTH_PERCENT,
 * docs/capacity.md). V8 reads the flag each time it sets that limit, so setting it here, at start-up, acts as
 * `node --heap-growing-percent` would (a flag NODE_OPTIONS does not accept) however the gateway is started: the image,
 * `pnpm start`, the bench. The setting is process-wide and wins over the command line's.
 */
export function applyHeapGrowth(percent: number): void {
  if (!Number.isSafeInteger(percent) || percent < 0) throw new RangeError('percent must be a non-negative integer');
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
