// The statistics the auth timing bench reports (src/auth-timing-bench.ts), on fixed data with known answers. No
// timing is measured or asserted here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kolmogorovSmirnov, mannWhitney } from '../src/auth-timing-bench.ts';

describe('auth timing bench statistics', { timeout: 10_000 }, () => {
  test('Mann-Whitney: identical samples are indistinguishable (p = 1); fully separated ones are not', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    assert.equal(mannWhitney(a, [...a]).p, 1);
    const high = a.map((v) => v + 1_000);
    const separated = mannWhitney(high, a);
    assert.equal(separated.u, 50 * 50, 'every x above every y');
    assert.ok(separated.p < 1e-6);
    assert.ok(separated.z > 0);
  });

  test('Mann-Whitney: U for a small textbook case', () => {
    // x = [1, 4, 8], y = [9, 12, 15]: rank sum of x is 6, so U = 6 − 3·4/2 = 0.
    assert.equal(mannWhitney([1, 4, 8], [9, 12, 15]).u, 0);
  });

  test('Kolmogorov-Smirnov: D is the largest gap between the two empirical CDFs', () => {
    assert.equal(kolmogorovSmirnov([1, 2, 3, 4], [1, 2, 3, 4]).d, 0);
    assert.equal(kolmogorovSmirnov([1, 2, 3, 4], [1, 2, 3, 4]).p, 1);
    assert.equal(kolmogorovSmirnov([1, 2, 3, 4], [5, 6, 7, 8]).d, 1);
    assert.equal(kolmogorovSmirnov([1, 2, 3, 4], [3, 4, 5, 6]).d, 0.5);
    const a = Array.from({ length: 100 }, (_, i) => i);
    assert.ok(
      kolmogorovSmirnov(
        a,
        a.map((v) => v + 100),
      ).p < 1e-6,
    );
  });
});
