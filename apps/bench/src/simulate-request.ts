import { toHex } from 'viem';

/** The JSON-RPC request the gateway's simulator sends for a native transfer (viem's simulateBlocks, traceTransfers). */
export function simulateRequest(account: `0x${string}`, to: `0x${string}`, value: bigint): unknown {
  return {
    jsonrpc: '2.0',
    id: 1,
    method: 'eth_simulateV1',
    params: [
      {
        blockStateCalls: [
          {
            blockOverrides: { time: toHex(Math.floor(Date.now() / 1000) + 1) },
            calls: [{ from: account, to, value: toHex(value), data: '0x', gas: toHex(30_000_000) }],
          },
        ],
        traceTransfers: true,
        validation: false,
      },
      'latest',
    ],
  };
}
