// Security regressions: signing requests refused before any policy runs, each with its exact reason code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, serializeTransaction, stringToHex, type Hex, type TransactionSerializable } from 'viem';
import {
  classifySigningRequest,
  isChainIdMismatch,
  isEip7702Transaction,
  isLegacyWithoutChainId,
  isRawHashMessage,
  type SigningRequest,
} from '../src/index.ts';
import { ALICE, BOB, USDC } from './fixtures.ts';

const INTENT = { chainId: 31337 };
const code = (request: SigningRequest) => classifySigningRequest(request, INTENT)?.code ?? null;
const R: Hex = `0x${'12'.repeat(32)}`;
const S: Hex = `0x${'34'.repeat(32)}`;

/** The refusal code of eth_sendRawTransaction for a transaction of nonce 0 to ALICE with 21000 gas, serialized. */
const rawTransactionCode = (fields: Omit<TransactionSerializable, 'nonce' | 'to' | 'gas'>) =>
  code({
    method: 'eth_sendRawTransaction',
    transaction: serializeTransaction({ nonce: 0, to: ALICE, gas: 21000n, ...fields } as TransactionSerializable),
  });

/** A one-field `Approve(address spender)` typed-data payload for BOB under `domain`. */
const approveTypedData = <Domain extends object>(domain: Domain) => ({
  domain,
  types: { Approve: [{ name: 'spender', type: 'address' }] },
  primaryType: 'Approve',
  message: { spender: BOB },
});

describe('chain.raw_hash_signing', () => {
  const hash = keccak256('0x1234');

  it('eth_sign of a 32-byte hash is refused', () => {
    assert.equal(code({ method: 'eth_sign', message: hash }), 'chain.raw_hash_signing');
  });

  it('personal_sign of a 32-byte hash is refused too (Safe and order verifiers add the prefix themselves)', () => {
    assert.equal(code({ method: 'personal_sign', message: hash }), 'chain.raw_hash_signing');
    assert.equal(
      code({ method: 'personal_sign', message: hash.toUpperCase().replace('0X', '0x') }),
      'chain.raw_hash_signing',
    );
  });

  it('32 bytes of printable text, hex-encoded, is a message, not a hash', () => {
    const text = stringToHex('Sign in to example.com, nonce 42');
    assert.equal((text.length - 2) / 2, 32);
    assert.equal(code({ method: 'personal_sign', message: text }), null);
    assert.equal(isRawHashMessage(text), false);
  });

  it('plain text, and binary messages of other lengths, are not raw hashes', () => {
    assert.equal(code({ method: 'personal_sign', message: 'hello' }), null);
    assert.equal(code({ method: 'personal_sign', message: `0x${'ff'.repeat(31)}` }), null);
    assert.equal(code({ method: 'personal_sign', message: `0x${'ff'.repeat(33)}` }), null);
  });

  it('32 bytes of text with control characters is treated as a hash', () => {
    assert.equal(isRawHashMessage(stringToHex(`${'a'.repeat(31)}\u0000`)), true);
  });
});

describe('chain.eip7702_authorization', () => {
  const authorization = (chainId: number) => ({ address: USDC, chainId, nonce: 0, r: R, s: S, yParity: 0 });

  it('an authorization list for chain id 0 (every chain) is refused', () => {
    assert.equal(
      code({ method: 'eth_sendTransaction', transaction: { chainId: 31337, authorizationList: [authorization(0)] } }),
      'chain.eip7702_authorization',
    );
  });

  it('an authorization list for the intent chain is refused as well', () => {
    assert.equal(
      code({
        method: 'eth_sendTransaction',
        transaction: { chainId: 31337, authorizationList: [authorization(31337)] },
      }),
      'chain.eip7702_authorization',
    );
  });

  it('type 4 with an empty list, and an empty list on any type, are refused', () => {
    assert.equal(
      code({ method: 'eth_signTransaction', transaction: { type: '0x4', chainId: '0x7a69' } }),
      'chain.eip7702_authorization',
    );
    assert.equal(
      code({ method: 'eth_signTransaction', transaction: { type: 'eip1559', chainId: 31337, authorizationList: [] } }),
      'chain.eip7702_authorization',
    );
  });

  it('a serialized type-4 transaction is refused', () => {
    assert.equal(
      rawTransactionCode({
        type: 'eip7702',
        chainId: 31337,
        maxFeePerGas: 1n,
        maxPriorityFeePerGas: 1n,
        authorizationList: [authorization(0)],
      }),
      'chain.eip7702_authorization',
    );
  });
});

describe('chain.legacy_transaction', () => {
  it('type 0 without a chain id is refused', () => {
    assert.equal(
      code({ method: 'eth_sendTransaction', transaction: { type: '0x0', gasPrice: '0x1', to: ALICE } }),
      'chain.legacy_transaction',
    );
    assert.equal(code({ method: 'eth_sendTransaction', transaction: { type: 'legacy' } }), 'chain.legacy_transaction');
  });

  it('no type, a gasPrice and no chain id is legacy and refused', () => {
    assert.equal(
      code({ method: 'eth_sendTransaction', transaction: { gasPrice: '0x3b9aca00', to: ALICE } }),
      'chain.legacy_transaction',
    );
  });

  it('a serialized pre-EIP-155 legacy transaction is refused', () => {
    assert.equal(rawTransactionCode({ type: 'legacy', gasPrice: 1n, value: 1n }), 'chain.legacy_transaction');
  });

  it('an EIP-155 legacy transaction for the intent chain is not refused by this check', () => {
    assert.equal(
      code({ method: 'eth_sendTransaction', transaction: { type: '0x0', chainId: '0x7a69', gasPrice: '0x1' } }),
      null,
    );
    assert.equal(rawTransactionCode({ type: 'legacy', chainId: 31337, gasPrice: 1n }), null);
  });
});

describe('chain.chain_id_mismatch', () => {
  it('a transaction for another chain is refused, in any notation', () => {
    for (const chainId of [1, 1n, '0x1', '1', 0]) {
      assert.equal(
        code({ method: 'eth_sendTransaction', transaction: { type: 'eip1559', chainId } }),
        'chain.chain_id_mismatch',
        String(chainId),
      );
    }
  });

  it("the intent chain, in any notation, passes; an absent chain id on a typed transaction is the gateway's to fill", () => {
    for (const chainId of [31337, 31337n, '0x7a69', '31337', undefined]) {
      assert.equal(
        code({ method: 'eth_sendTransaction', transaction: { type: 'eip1559', chainId } }),
        null,
        String(chainId),
      );
    }
  });

  it('a serialized EIP-1559 transaction for chain 1 is refused', () => {
    assert.equal(
      rawTransactionCode({ type: 'eip1559', chainId: 1, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }),
      'chain.chain_id_mismatch',
    );
  });

  it('typed data whose domain is for another chain is refused', () => {
    const typedData = approveTypedData({ name: 'X', chainId: 1, verifyingContract: USDC });
    assert.equal(code({ method: 'eth_signTypedData_v4', typedData }), 'chain.chain_id_mismatch');
    assert.equal(
      code({
        method: 'eth_signTypedData_v4',
        typedData: { ...typedData, domain: { ...typedData.domain, chainId: '0x7a69' } },
      }),
      null,
    );
  });

  it('typed data whose domain has no chainId (valid on every chain) is refused', () => {
    const typedData = approveTypedData({ name: 'X', verifyingContract: USDC });
    assert.equal(code({ method: 'eth_signTypedData_v4', typedData }), 'chain.typed_data_without_chain_id');
    assert.equal(
      code({ method: 'eth_signTypedData_v4', typedData: JSON.stringify({ ...typedData, domain: { name: 'X' } }) }),
      'chain.typed_data_without_chain_id',
    );
  });
});

describe('chain.malformed_signing_request', () => {
  it('unreadable types, chain ids, serialized bytes, typed data and methods', () => {
    const cases: unknown[] = [
      { method: 'eth_sendTransaction', transaction: { type: 'eip9999', chainId: 31337 } },
      { method: 'eth_sendTransaction', transaction: { type: 'eip1559', chainId: 'mainnet' } },
      { method: 'eth_sendTransaction', transaction: { type: 'eip1559', chainId: -1 } },
      { method: 'eth_sendTransaction', transaction: { type: 'eip1559', chainId: 1.5 } },
      { method: 'eth_sendTransaction', transaction: null },
      { method: 'eth_sendRawTransaction', transaction: '0xdeadbeef' },
      { method: 'eth_sendRawTransaction', transaction: 'not hex' },
      { method: 'eth_signTypedData_v4', typedData: '{' },
      { method: 'personal_sign', message: 42 },
      { method: 'eth_signTypedData_v3', typedData: {} },
      null,
    ];
    for (const request of cases) {
      assert.equal(
        classifySigningRequest(request as SigningRequest, INTENT)?.code,
        'chain.malformed_signing_request',
        JSON.stringify(request),
      );
    }
  });

  it('the exported predicates fail closed on fields they cannot read', () => {
    assert.equal(isChainIdMismatch('mainnet', 31337), true);
    assert.equal(isChainIdMismatch(31337, 31337), false);
    assert.equal(isEip7702Transaction({ type: 'eip9999' }), true);
    assert.equal(isLegacyWithoutChainId({ type: 'eip1559', chainId: {} }), false);
    assert.equal(isLegacyWithoutChainId({ type: 'legacy', chainId: {} }), true);
  });

  it('refusals carry a human sentence', () => {
    const refusal = classifySigningRequest({ method: 'eth_sign', message: keccak256('0x') }, INTENT);
    assert.equal(typeof refusal?.message, 'string');
    assert.ok(refusal!.message.length > 10);
  });
});
