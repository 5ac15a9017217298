import { encodeFunctionData, parseAbi, type Address, type Hex } from 'viem';

/** Anvil's well-known development accounts (public, never real funds). */
export const SIGNER: Address = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
export const ALICE: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
export const BOB: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
export const DEAD: Address = '0x000000000000000000000000000000000000dEaD';
/** Mainnet contract addresses used only as labels. */
export const USDC: Address = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
export const DAI: Address = '0x6B175474E89094C44Da98b954EedeAC495271d0F';
export const NFT: Address = '0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D';
export const ROUTER: Address = '0xE592427A0AEce92De3Edee1F18E0157C05861564';
export const SAFE: Address = '0x5aFE3855358E112B5647B952709E6165e1c1eEEe';
export const MULTISEND: Address = '0x40A2aCCbd92BCA938b02010E17A5b8929b49130D';
export const MULTICALL3: Address = '0xcA11bde05977b3631167028862bE2a173976CA11';
export const PERMIT2: Address = '0x000000000022D473030F116dDEE9F6B43aC78BA3';
export const MAX_UINT256 = (1n << 256n) - 1n;
export const MAX_UINT160 = (1n << 160n) - 1n;

export const wrappersAbi = parseAbi([
  'function multicall(bytes[] data) payable returns (bytes[] results)',
  'function multicall(uint256 deadline, bytes[] data) payable returns (bytes[] results)',
  'struct Call { address target; bytes callData; }',
  'struct Call3 { address target; bool allowFailure; bytes callData; }',
  'struct Call3Value { address target; bool allowFailure; uint256 value; bytes callData; }',
  'function aggregate(Call[] calls) payable returns (uint256 blockNumber, bytes[] returnData)',
  'function tryAggregate(bool requireSuccess, Call[] calls) payable returns ((bool success, bytes returnData)[] returnData)',
  'function aggregate3(Call3[] calls) payable returns ((bool success, bytes returnData)[] returnData)',
  'function aggregate3Value(Call3Value[] calls) payable returns ((bool success, bytes returnData)[] returnData)',
  'function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool success)',
  'function multiSend(bytes transactions) payable',
]);

/** A Safe execTransaction with no gas refund and a dummy signature blob. */
export function execTransaction(
  to: Address,
  data: Hex,
  operation: 0 | 1 = 0,
  value = 0n,
  refund?: { gasPrice: bigint; gasToken: Address; refundReceiver: Address },
): Hex {
  return encodeFunctionData({
    abi: wrappersAbi,
    functionName: 'execTransaction',
    args: [
      to,
      value,
      data,
      operation,
      0n,
      0n,
      refund?.gasPrice ?? 0n,
      refund?.gasToken ?? '0x0000000000000000000000000000000000000000',
      refund?.refundReceiver ?? '0x0000000000000000000000000000000000000000',
      `0x${'11'.repeat(65)}`,
    ],
  });
}

/** Safe MultiSend's packed encoding of one entry. */
export function packMultiSend(entries: readonly { operation: 0 | 1; to: Address; value: bigint; data: Hex }[]): Hex {
  const parts = entries.map((e) => {
    const body = e.data.slice(2);
    return (
      e.operation.toString(16).padStart(2, '0') +
      e.to.slice(2).toLowerCase() +
      e.value.toString(16).padStart(64, '0') +
      (body.length / 2).toString(16).padStart(64, '0') +
      body
    );
  });
  return `0x${parts.join('')}`;
}

export { prng } from '@clawd402/testkit';

export function randomHex(next: () => number, bytes: number): Hex {
  let s = '0x';
  for (let i = 0; i < bytes; i++)
    s += Math.floor(next() * 256)
      .toString(16)
      .padStart(2, '0');
  return s as Hex;
}
