// eth_sendTransaction, personal_sign and eth_signTypedData_v4 parameters as intent bodies (pure).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, erc20Abi, stringToHex, type Address } from 'viem';
import { RpcFailure } from '../src/services/json-rpc-errors.ts';
import { messageBody, transactionRequest, typedDataOf } from '../src/services/json-rpc-params.ts';

const SIGNER: Address = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const TO: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

/** The stable code a mapping refused with. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RpcFailure, String(error));
    return (error.error.data as { code: string }).code;
  }
  return assert.fail('not refused');
}

describe('JSON-RPC wallet parameters', () => {
  test('no calldata is a native transfer of value in ether units; fees and type are ignored, gas kept', () => {
    const { body, gas } = transactionRequest(
      [
        {
          from: SIGNER.toLowerCase(),
          to: TO,
          value: '0x2386f26fc10000',
          gas: '0x5208',
          maxFeePerGas: '0x1',
          type: '0x2',
        },
      ],
      31337,
      SIGNER,
    );
    assert.deepEqual(body, { type: 'transfer', chainId: 31337, to: TO, asset: 'native', amount: '0.01' });
    assert.equal(gas, 21000n);
  });

  test('calldata (as data or input) is a contract call carrying its value', () => {
    const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [TO, 5n] });
    const { body } = transactionRequest([{ to: TO, input: data, value: '0xde0b6b3a7640000' }], 1, SIGNER);
    assert.deepEqual(body, { type: 'contract_call', chainId: 1, to: TO, data, value: '1' });
  });

  test('refused: another from, a nonce, another chain id, no to, unknown fields, bad quantities', () => {
    assert.equal(
      refusal(() => transactionRequest([{ from: TO, to: TO }], 1, SIGNER)),
      'rpc_from_mismatch',
    );
    assert.equal(
      refusal(() => transactionRequest([{ to: TO, nonce: '0x0' }], 1, SIGNER)),
      'rpc_nonce_unsupported',
    );
    assert.equal(
      refusal(() => transactionRequest([{ to: TO, chainId: '0x2' }], 1, SIGNER)),
      'rpc_chain_mismatch',
    );
    assert.equal(
      refusal(() => transactionRequest([{ data: '0x00' }], 1, SIGNER)),
      'rpc_invalid_params',
    );
    assert.equal(
      refusal(() => transactionRequest([{ to: TO, blobs: [] }], 1, SIGNER)),
      'rpc_invalid_params',
    );
    assert.equal(
      refusal(() => transactionRequest([{ to: TO, value: '0x01' }], 1, SIGNER)),
      'rpc_invalid_params',
    );
    assert.equal(
      refusal(() => transactionRequest([{ to: TO, value: 1 }], 1, SIGNER)),
      'rpc_invalid_params',
    );
    assert.equal(
      refusal(() => transactionRequest([{ to: TO, data: '0x0' }], 1, SIGNER)),
      'rpc_invalid_params',
    );
  });

  test('personal_sign: printable UTF-8 bytes are text, other bytes stay raw, another address is refused', () => {
    assert.deepEqual(messageBody([stringToHex('hello'), SIGNER], 1, SIGNER), {
      type: 'message',
      chainId: 1,
      message: 'hello',
    });
    assert.deepEqual(messageBody(['0x00ff', SIGNER], 1, SIGNER).message, { raw: '0x00ff' });
    assert.equal(messageBody(['plain text', SIGNER], 1, SIGNER).message, 'plain text');
    assert.equal(
      refusal(() => messageBody([stringToHex('hello'), TO], 1, SIGNER)),
      'rpc_from_mismatch',
    );
  });

  test('eth_signTypedData_v4: strict JSON, and a hex domain chainId read as its number', () => {
    const typed = { domain: { chainId: '0x7a69' }, types: {}, primaryType: 'X', message: {} };
    assert.deepEqual(typedDataOf([SIGNER, JSON.stringify(typed)], SIGNER), { ...typed, domain: { chainId: 31337 } });
    const duplicate = '{"domain":{},"types":{},"primaryType":"X","primaryType":"Y","message":{}}';
    assert.equal(
      refusal(() => typedDataOf([SIGNER, duplicate], SIGNER)),
      'rpc_invalid_params',
    );
  });
});
