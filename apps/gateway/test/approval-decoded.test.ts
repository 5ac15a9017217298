import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, erc20Abi, maxUint256, parseAbi, type Address } from 'viem';
import type { IntentRecord } from '../src/domain/intent.ts';
import { decodedView } from '../src/routes/admin/approval-decoded.ts';

const TOKEN: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const SPENDER: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const RECIPIENT: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const MULTICALL3: Address = '0xcA11bde05977b3631167028862bE2a173976CA11';
const SIGNER: Address = '0x7b5b9705d7A214F4CEF2Eb1f63cBc28Ef80A7297';

const call = (to: Address, data: `0x${string}`, amount = 0n) =>
  ({ id: 'i', type: 'contract_call', chainId: 31337, from: SIGNER, to, data, amount }) as unknown as IntentRecord;

// What the approvals page shows an approver of a contract call: the decoder's reading of its calldata.
describe('an approval shows the calldata decoded', () => {
  test('an ERC-20 approve names its spender, its amount and that it is unlimited', () => {
    const view = decodedView(
      call(TOKEN, encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [SPENDER, maxUint256] })),
    );
    assert.equal(view.status, 'decoded');
    assert.equal(view.functionName, 'approve');
    assert.equal(view.flags.unlimitedApproval, true);
    assert.equal(view.effects.length, 1);
    assert.deepEqual(
      [view.effects[0]!.kind, view.effects[0]!.asset, view.effects[0]!.spender, view.effects[0]!.amount],
      ['approval', TOKEN, SPENDER, maxUint256.toString()],
    );
    assert.equal(view.effects[0]!.unlimited, true);
  });

  test('a Multicall3 batch lists each inner call and each effect with its recipient', () => {
    const transfer = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [RECIPIENT, 5_000_000n] });
    const approve = encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [SPENDER, 7n] });
    const data = encodeFunctionData({
      abi: parseAbi([
        'struct Call3 { address target; bool allowFailure; bytes callData; }',
        'function aggregate3(Call3[] calls) payable returns ((bool success, bytes returnData)[] returnData)',
      ]),
      functionName: 'aggregate3',
      args: [
        [
          { target: TOKEN, allowFailure: false, callData: transfer },
          { target: TOKEN, allowFailure: false, callData: approve },
        ],
      ],
    });
    const view = decodedView(call(MULTICALL3, data));
    assert.equal(view.status, 'decoded');
    assert.deepEqual(
      view.calls.map((c) => [c.path.join('.'), c.target, c.functionName]),
      [
        ['', MULTICALL3, 'aggregate3'],
        ['0', TOKEN, 'transfer'],
        ['1', TOKEN, 'approve'],
      ],
    );
    const kinds = view.effects.filter((e) => e.kind !== 'contract_call');
    assert.deepEqual(
      kinds.map((e) => [e.kind, e.recipient, e.spender, e.amount]),
      [
        ['transfer', RECIPIENT, null, '5000000'],
        ['approval', null, SPENDER, '7'],
      ],
    );
  });

  test('a transfer has nothing to decode; calldata the decoder refuses says why', () => {
    assert.equal(decodedView({ ...call(TOKEN, '0x'), type: 'transfer', data: null }).status, 'plain');
    const broken = decodedView(call(TOKEN, '0xa9059cbb0000'));
    assert.equal(broken.status, 'undecodable');
    assert.match(broken.error!.code, /^decode\./);
  });
});
