// The rule that decides whether a refused request ignored a Retry-After (docs/rate-limits.md "Progressive blocks").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FRESH_CONNECTION_GRACE_MS, ignoresRetryAfter } from '../src/plugins/app/rate-limit-store.ts';

const ISSUED = 1_000_000;
const DEADLINE = ISSUED + 60_000;

describe('ignoresRetryAfter', { timeout: 10_000 }, () => {
  test('a request on a connection already told ignores the Retry-After at once', () => {
    assert.equal(ignoresRetryAfter({ arrivedAt: ISSUED + 100, connectionTold: true }, ISSUED, DEADLINE), true);
  });

  test('a request on a fresh connection counts only from the grace on (a late member of a burst counts nothing)', () => {
    const fresh = (arrivedAt: number) => ignoresRetryAfter({ arrivedAt, connectionTold: false }, ISSUED, DEADLINE);
    assert.equal(fresh(ISSUED + 100), false);
    assert.equal(fresh(ISSUED + FRESH_CONNECTION_GRACE_MS - 1), false);
    assert.equal(fresh(ISSUED + FRESH_CONNECTION_GRACE_MS), true);
  });

  test('at or after the time told nothing is ignored, on any connection', () => {
    for (const connectionTold of [true, false]) {
      assert.equal(ignoresRetryAfter({ arrivedAt: DEADLINE, connectionTold }, ISSUED, DEADLINE), false);
      assert.equal(ignoresRetryAfter({ arrivedAt: DEADLINE + 1, connectionTold }, ISSUED, DEADLINE), false);
    }
  });

  test('a short Retry-After told to a fresh connection is never ignored before its end', () => {
    // 1 s told: the grace outlasts it, so a burst against a 1 s token bucket never counts on fresh connections.
    for (let t = 0; t < 1_000; t += 50)
      assert.equal(ignoresRetryAfter({ arrivedAt: ISSUED + t, connectionTold: false }, ISSUED, ISSUED + 1_000), false);
  });
});
