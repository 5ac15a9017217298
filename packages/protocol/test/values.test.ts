// Value parsing at the API boundary: each hostile or malformed input gets its exact code.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Clawd402Error,
  ZERO_ADDRESS,
  assertDecimalString,
  formatAmount,
  parseAddress,
  parseAmount,
  parseCalldata,
  parseRecipient,
  type ApiErrorCode,
} from '../src/index.ts';

/** Run `fn`, expect a Clawd402Error with `code` and `details.field === field`. */
function assertCode(fn: () => unknown, code: ApiErrorCode, field = 'f'): Clawd402Error {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof Clawd402Error, `expected Clawd402Error, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.statusCode, 400);
    assert.equal(error.details?.field, field);
    return error;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

const CHECKSUMMED = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const MAX_UINT256 = (1n << 256n) - 1n;

describe('parseAddress', () => {
  test('accepts the checksummed form and returns it unchanged', () => {
    assert.equal(parseAddress('f', CHECKSUMMED), CHECKSUMMED);
  });

  test('accepts all-lowercase and all-uppercase hex and returns the checksummed form', () => {
    assert.equal(parseAddress('f', CHECKSUMMED.toLowerCase()), CHECKSUMMED);
    assert.equal(parseAddress('f', `0x${CHECKSUMMED.slice(2).toUpperCase()}`), CHECKSUMMED);
  });

  test('accepts an address with no letters (no case to check)', () => {
    assert.equal(
      parseAddress('f', '0x1111111111111111111111111111111111111111'),
      '0x1111111111111111111111111111111111111111',
    );
  });

  test('one flipped letter case is invalid_address_checksum', () => {
    // The last "C" → "c", and separately the first letter "C" → "c".
    assertCode(() => parseAddress('f', '0x70997970C51812dc3A010C7d01b50e0d17dc79c8'), 'invalid_address_checksum');
    assertCode(() => parseAddress('f', '0x70997970c51812dc3A010C7d01b50e0d17dc79C8'), 'invalid_address_checksum');
  });

  test('every single flipped letter in a checksummed address is caught', () => {
    const body = CHECKSUMMED.slice(2);
    for (let i = 0; i < body.length; i++) {
      const ch = body[i]!;
      if (!/[a-fA-F]/.test(ch)) continue;
      const flipped = ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase();
      const value = `0x${body.slice(0, i)}${flipped}${body.slice(i + 1)}`;
      assertCode(() => parseAddress('f', value), 'invalid_address_checksum');
    }
  });

  test('wrong length, non-hex or a bad prefix is invalid_address', () => {
    for (const value of [
      '',
      '0x',
      '0x1234',
      CHECKSUMMED.slice(0, -1), // 39 digits
      `${CHECKSUMMED}0`, // 41 digits
      `0x${'0'.repeat(64)}`, // a 32-byte word
      '0x70997970C51812dc3A010C7d01b50e0d17dc79Cg', // non-hex
      CHECKSUMMED.slice(2), // no 0x
      `0X${CHECKSUMMED.slice(2)}`, // capital X
      ` ${CHECKSUMMED}`,
      `${CHECKSUMMED}\n`,
      'native',
    ]) {
      assertCode(() => parseAddress('f', value), 'invalid_address');
    }
  });

  test('names the field it was given', () => {
    const error = assertCode(() => parseAddress('asset', 'nope'), 'invalid_address', 'asset');
    assert.match(error.message, /^asset /);
  });
});

describe('parseRecipient', () => {
  test('accepts a non-zero address and returns it checksummed', () => {
    assert.equal(parseRecipient('to', CHECKSUMMED.toLowerCase()), CHECKSUMMED);
  });

  test('the zero address is zero_address_recipient', () => {
    assertCode(() => parseRecipient('to', ZERO_ADDRESS), 'zero_address_recipient', 'to');
  });

  test('address errors come first', () => {
    assertCode(() => parseRecipient('to', '0x00'), 'invalid_address', 'to');
    assertCode(
      () => parseRecipient('to', '0x70997970C51812dc3A010C7d01b50e0d17dc79c8'),
      'invalid_address_checksum',
      'to',
    );
  });
});

describe('parseAmount', () => {
  test('parses decimal strings into base units', () => {
    assert.equal(parseAmount('f', '1', 18), 10n ** 18n);
    assert.equal(parseAmount('f', '1.5', 18), 15n * 10n ** 17n);
    assert.equal(parseAmount('f', '0.000000000000000001', 18), 1n);
    assert.equal(parseAmount('f', '0', 18), 0n);
    assert.equal(parseAmount('f', '0.0', 18), 0n);
    assert.equal(parseAmount('f', '10', 0), 10n);
    assert.equal(parseAmount('f', '1.000001', 6), 1_000_001n);
    assert.equal(parseAmount('f', '123.45', 6), 123_450_000n);
  });

  test('refuses everything that is not a plain non-negative decimal with invalid_amount', () => {
    for (const value of [
      '',
      '01',
      '00',
      '00.5',
      '1.',
      '.5',
      '.',
      '-1',
      '+1',
      '-0',
      '1e3',
      '1E3',
      '0x10',
      ' 1',
      '1 ',
      '1\n',
      '1_000',
      '1,000',
      '1.2.3',
      'Infinity',
      'NaN',
      '١', // ARABIC-INDIC DIGIT ONE
      '１', // FULLWIDTH DIGIT ONE
      '1٠', // 1 followed by ARABIC-INDIC DIGIT ZERO
      '𝟏', // MATHEMATICAL BOLD DIGIT ONE
    ]) {
      assertCode(() => parseAmount('f', value, 18), 'invalid_amount');
    }
  });

  test('a string over 100 characters is invalid_amount, not amount_overflow', () => {
    assertCode(() => parseAmount('f', '1'.repeat(101), 18), 'invalid_amount');
    assertCode(() => parseAmount('f', `0.${'0'.repeat(99)}`, 18), 'invalid_amount');
  });

  test('more fractional digits than decimals is amount_too_precise, with the decimals in details', () => {
    const error = assertCode(() => parseAmount('f', '0.0000000000000000001', 18), 'amount_too_precise');
    assert.equal(error.details?.decimals, 18);
    assertCode(() => parseAmount('f', '1.0000001', 6), 'amount_too_precise');
    assertCode(() => parseAmount('f', '1.5', 0), 'amount_too_precise');
    // Trailing zeros are digits too: nothing is rounded or trimmed.
    assertCode(() => parseAmount('f', '1.0', 0), 'amount_too_precise');
  });

  test('exactly 2^256 - 1 base units is accepted; 2^256 is amount_overflow', () => {
    assert.equal(parseAmount('f', MAX_UINT256.toString(), 0), MAX_UINT256);
    assertCode(() => parseAmount('f', (MAX_UINT256 + 1n).toString(), 0), 'amount_overflow');

    const at18 = formatAmount(MAX_UINT256, 18);
    assert.equal(parseAmount('f', at18, 18), MAX_UINT256);
    assertCode(() => parseAmount('f', formatAmount(MAX_UINT256 + 1n, 18), 18), 'amount_overflow');
    // The whole part alone overflowing.
    assertCode(() => parseAmount('f', `1${'0'.repeat(60)}`, 18), 'amount_overflow');
  });
});

describe('formatAmount', () => {
  test('formats base units without trailing zeros', () => {
    assert.equal(formatAmount(0n, 18), '0');
    assert.equal(formatAmount(1n, 18), '0.000000000000000001');
    assert.equal(formatAmount(10n ** 18n, 18), '1');
    assert.equal(formatAmount(15n * 10n ** 17n, 18), '1.5');
    assert.equal(formatAmount(1_000_000n, 6), '1');
    assert.equal(formatAmount(10n, 0), '10');
    assert.equal(formatAmount(0n, 0), '0');
  });

  test('round-trips parseAmount at 0, 6 and 18 decimals', () => {
    const cases: Record<number, string[]> = {
      0: ['0', '1', '42', '1000000', MAX_UINT256.toString()],
      6: ['0', '1', '0.000001', '0.5', '1.25', '123456.654321', '1000000', formatAmount(MAX_UINT256, 6)],
      18: [
        '0',
        '1',
        '1.5',
        '0.000000000000000001',
        '0.1',
        '123.000000000000000456',
        '99999999.999999999999999999',
        formatAmount(MAX_UINT256, 18),
      ],
    };
    for (const [d, values] of Object.entries(cases)) {
      const decimals = Number(d);
      for (const value of values) {
        const units = parseAmount('f', value, decimals);
        assert.equal(formatAmount(units, decimals), value, `${value} at ${decimals} decimals`);
        assert.equal(parseAmount('f', formatAmount(units, decimals), decimals), units);
      }
    }
  });

  test('parseAmount(formatAmount(u)) === u for assorted base-unit values', () => {
    for (const decimals of [0, 6, 18]) {
      for (const units of [0n, 1n, 9n, 10n, 999_999n, 1_000_000n, 10n ** 18n - 1n, 10n ** 18n + 1n, MAX_UINT256]) {
        assert.equal(parseAmount('f', formatAmount(units, decimals), decimals), units, `${units} at ${decimals}`);
      }
    }
  });
});

describe('assertDecimalString', () => {
  test('accepts plain non-negative decimals of any precision', () => {
    for (const value of ['0', '1', '1.5', '0.000000000000000000000001', MAX_UINT256.toString(), `${MAX_UINT256}0`]) {
      assert.doesNotThrow(() => assertDecimalString('f', value), value);
    }
  });

  test('refuses what parseAmount refuses as invalid_amount', () => {
    for (const value of ['', '01', '1.', '.5', '-1', '+1', '1e3', ' 1', '1_000', '１', '1'.repeat(101)]) {
      assertCode(() => assertDecimalString('f', value), 'invalid_amount');
    }
  });
});

describe('parseCalldata', () => {
  test('accepts 0x-prefixed even-length hex, including empty, and lowercases it', () => {
    assert.equal(parseCalldata('data', '0x'), '0x');
    assert.equal(parseCalldata('data', '0xa9059cbb'), '0xa9059cbb');
    assert.equal(parseCalldata('data', '0xA9059CBB'), '0xa9059cbb');
  });

  test('odd length, non-hex or a missing 0x is invalid_calldata', () => {
    for (const value of [
      '0xabc',
      '0x0',
      '0xzz',
      '0xa9059cbg',
      'a9059cbb',
      '',
      '0',
      '0X00',
      ' 0x00',
      '0x00 ',
      '0x00\n',
    ]) {
      assertCode(() => parseCalldata('data', value), 'invalid_calldata', 'data');
    }
  });
});
