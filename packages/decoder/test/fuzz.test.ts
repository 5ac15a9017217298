// Fuzz-style: random and mutated inputs never make the decoder throw. Seeded, so a failure reproduces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, erc20Abi, type Hex } from 'viem';
import {
  classifySigningRequest,
  DECODE_ERROR_CODES,
  decodeCall,
  decodeTypedData,
  type DecodeCallResult,
} from '../src/index.ts';
import { eip712Fields } from '@clawd402/testkit';
import { CALL_HANDLERS } from '../src/handlers/registry.ts';
import {
  DEAD,
  execTransaction,
  MULTISEND,
  packMultiSend,
  prng,
  randomHex,
  ROUTER,
  SAFE,
  USDC,
  wrappersAbi,
} from './fixtures.ts';

function wellFormed(r: DecodeCallResult): void {
  if (r.ok) {
    assert.ok(Array.isArray(r.effects));
    for (const e of r.effects) assert.equal(typeof e.kind, 'string');
  } else {
    assert.match(r.code, /^decode\./);
    // The catch-all answer means something threw that the decoder did not anticipate: a bug even though it is caught.
    assert.notEqual(r.message, DECODE_ERROR_CODES['decode.malformed_calldata']);
  }
}

const SELECTORS = [...CALL_HANDLERS.keys()];

describe('fuzz: decodeCall never throws', () => {
  it('random bytes of random lengths', () => {
    const next = prng(1);
    for (let i = 0; i < 2000; i++) {
      const data = randomHex(next, Math.floor(next() * 300));
      wellFormed(decodeCall({ chainId: 1, to: USDC, data, value: BigInt(Math.floor(next() * 3)) }));
    }
  });

  it('random argument bytes behind every known selector', () => {
    const next = prng(2);
    for (let i = 0; i < 3000; i++) {
      const selector = SELECTORS[i % SELECTORS.length]!;
      const body = randomHex(next, 32 * Math.floor(next() * 12)).slice(2);
      wellFormed(decodeCall({ chainId: 1, to: ROUTER, data: `${selector}${body}` as Hex }));
    }
  });

  it('byte flips in nested wrapper calldata (Safe → MultiSend → multicall → transfer)', () => {
    const transfer = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [DEAD, 1n] });
    const multicall = encodeFunctionData({ abi: wrappersAbi, functionName: 'multicall', args: [[transfer, transfer]] });
    const blob = packMultiSend([
      { operation: 0, to: ROUTER, value: 1n, data: multicall },
      { operation: 1, to: USDC, value: 0n, data: transfer },
    ]);
    const seed = execTransaction(
      MULTISEND,
      encodeFunctionData({ abi: wrappersAbi, functionName: 'multiSend', args: [blob] }),
      1,
    );
    const next = prng(3);
    let decoded = 0;
    for (let i = 0; i < 2000; i++) {
      const chars = seed.split('');
      const flips = 1 + Math.floor(next() * 4);
      for (let f = 0; f < flips; f++) {
        const at = 2 + Math.floor(next() * (chars.length - 2));
        chars[at] = '0123456789abcdef'[Math.floor(next() * 16)]!;
      }
      const r = decodeCall({ chainId: 1, to: SAFE, data: chars.join('') });
      wellFormed(r);
      if (r.ok) decoded += 1;
    }
    assert.ok(decoded > 0, 'some mutations still decode (flips inside data bytes)');
  });
});

describe('fuzz: decodeTypedData and classifySigningRequest never throw', () => {
  const atoms = [
    null,
    true,
    0,
    -1,
    1e300,
    '',
    '0x',
    'Permit',
    [],
    {},
    '0x' + 'f'.repeat(40),
    { name: 'a', type: 'uint256' },
  ];
  function randomValue(next: () => number, depth: number): unknown {
    const roll = next();
    if (depth > 3 || roll < 0.5) return atoms[Math.floor(next() * atoms.length)];
    if (roll < 0.75) return Array.from({ length: Math.floor(next() * 3) }, () => randomValue(next, depth + 1));
    const keys = [
      'domain',
      'types',
      'primaryType',
      'message',
      'name',
      'type',
      'chainId',
      'Permit',
      'verifyingContract',
      '__proto__',
    ];
    const out: Record<string, unknown> = {};
    for (let k = 0; k < Math.floor(next() * 4); k++)
      out[keys[Math.floor(next() * keys.length)]!] = randomValue(next, depth + 1);
    return out;
  }

  it('random structures', () => {
    const next = prng(4);
    for (let i = 0; i < 2000; i++) {
      const value = randomValue(next, 0);
      const r = decodeTypedData(value);
      assert.equal(typeof r.ok, 'boolean');
      if (!r.ok) assert.notEqual(r.message, 'The typed data could not be hashed.');
      const refusal = classifySigningRequest({ method: 'eth_signTypedData_v4', typedData: value }, { chainId: 1 });
      assert.ok(refusal === null || typeof refusal.code === 'string');
      const tx = classifySigningRequest({ method: 'eth_sendTransaction', transaction: value as never }, { chainId: 1 });
      assert.ok(tx === null || typeof tx.code === 'string');
    }
  });

  it('a valid Permit2 payload with random leaves replaced is either decoded or refused by validation, never by the hasher', () => {
    const base = () => ({
      domain: { name: 'Permit2', chainId: 1, verifyingContract: USDC },
      types: {
        PermitBatch: eip712Fields('PermitDetails[] details,address spender,uint256 sigDeadline'),
        PermitDetails: eip712Fields('address token,uint160 amount,uint48 expiration,uint48 nonce'),
      },
      primaryType: 'PermitBatch',
      message: { details: [{ token: USDC, amount: '5', expiration: 1, nonce: 0 }], spender: DEAD, sigDeadline: '9' },
    });
    const next = prng(6);
    const leaves: string[][] = [];
    const walk = (v: unknown, path: string[]) => {
      if (v !== null && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...path, k]);
      else leaves.push(path);
    };
    walk(base(), []);
    let decoded = 0;
    for (let i = 0; i < 2000; i++) {
      const payload = base() as unknown as Record<string, unknown>;
      const path = leaves[Math.floor(next() * leaves.length)]!;
      let parent = payload;
      for (const k of path.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
      parent[path.at(-1)!] = atoms[Math.floor(next() * atoms.length)];
      const r = decodeTypedData(payload);
      if (r.ok) decoded += 1;
      else assert.notEqual(r.message, 'The typed data could not be hashed.', JSON.stringify(payload));
    }
    assert.ok(decoded > 0);
  });

  it('random serialized transactions', () => {
    const next = prng(5);
    for (let i = 0; i < 1000; i++) {
      const prefix = ['', '01', '02', '03', '04', 'f8', 'c0'][i % 7]!;
      const transaction = `0x${prefix}${randomHex(next, Math.floor(next() * 120)).slice(2)}`;
      const r = classifySigningRequest({ method: 'eth_sendRawTransaction', transaction }, { chainId: 1 });
      assert.ok(r === null || typeof r.code === 'string');
    }
  });
});
