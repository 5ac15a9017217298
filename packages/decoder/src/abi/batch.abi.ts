import { parseAbi } from 'viem';
import { pickFunction } from '../call-handler.ts';

/** Multicall3's well-known address (the same on most chains); the decoder reads its selectors at any address. */
export const MULTICALL3_ADDRESS = '0xcA11bde05977b3631167028862bE2a173976CA11' as const;

const abi = parseAbi([
  // Uniswap periphery / many routers: each item is delegatecalled on the router itself
  'function multicall(bytes[] data) payable returns (bytes[] results)',
  'function multicall(uint256 deadline, bytes[] data) payable returns (bytes[] results)',
  'function multicall(bytes32 previousBlockhash, bytes[] data) payable returns (bytes[] results)',
  // Multicall3: each item is a call made by the Multicall3 contract
  'struct Call { address target; bytes callData; }',
  'struct Call3 { address target; bool allowFailure; bytes callData; }',
  'struct Call3Value { address target; bool allowFailure; uint256 value; bytes callData; }',
  'struct Result { bool success; bytes returnData; }',
  'function aggregate(Call[] calls) payable returns (uint256 blockNumber, bytes[] returnData)',
  'function tryAggregate(bool requireSuccess, Call[] calls) payable returns (Result[] returnData)',
  'function blockAndAggregate(Call[] calls) payable returns (uint256 blockNumber, bytes32 blockHash, Result[] returnData)',
  'function tryBlockAndAggregate(bool requireSuccess, Call[] calls) payable returns (uint256 blockNumber, bytes32 blockHash, Result[] returnData)',
  'function aggregate3(Call3[] calls) payable returns (Result[] returnData)',
  'function aggregate3Value(Call3Value[] calls) payable returns (Result[] returnData)',
  // Safe
  'function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool success)',
  'function multiSend(bytes transactions) payable',
]);

export const MULTICALL_BYTES = pickFunction(abi, 'multicall', 1);
const multicall2 = abi.filter((x) => x.type === 'function' && x.name === 'multicall' && x.inputs.length === 2);
export const MULTICALL_DEADLINE = pickFunction(
  multicall2.filter((x) => x.inputs[0]?.type === 'uint256'),
  'multicall',
  2,
);
export const MULTICALL_BLOCKHASH = pickFunction(
  multicall2.filter((x) => x.inputs[0]?.type === 'bytes32'),
  'multicall',
  2,
);
export const MULTICALL3_AGGREGATE = pickFunction(abi, 'aggregate', 1);
export const MULTICALL3_TRY_AGGREGATE = pickFunction(abi, 'tryAggregate', 2);
export const MULTICALL3_BLOCK_AND_AGGREGATE = pickFunction(abi, 'blockAndAggregate', 1);
export const MULTICALL3_TRY_BLOCK_AND_AGGREGATE = pickFunction(abi, 'tryBlockAndAggregate', 2);
export const MULTICALL3_AGGREGATE3 = pickFunction(abi, 'aggregate3', 1);
export const MULTICALL3_AGGREGATE3_VALUE = pickFunction(abi, 'aggregate3Value', 1);
export const SAFE_EXEC_TRANSACTION = pickFunction(abi, 'execTransaction', 10);
export const SAFE_MULTI_SEND = pickFunction(abi, 'multiSend', 1);
