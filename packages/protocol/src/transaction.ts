import {
  getAddress,
  keccak256,
  serializeTransaction,
  type Address,
  type Hex,
  type TransactionSerializableEIP1559,
} from 'viem';

/**
 * An unsigned EIP-1559 transaction as it crosses the gateway→signer socket. Integers above 2^53 travel as decimal
 * strings so nothing is rounded through a JSON number.
 */
export interface WireTransaction {
  type: 'eip1559';
  chainId: number;
  nonce: number;
  to: Address;
  value: string;
  data: Hex;
  gas: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
}

const DIGITS = /^(0|[1-9][0-9]{0,77})$/;
const MAX_UINT256 = (1n << 256n) - 1n;

/** Convert a wire transaction into viem's shape, refusing anything that is not exactly a plain EIP-1559 call. */
export function fromWireTransaction(wire: WireTransaction): TransactionSerializableEIP1559 {
  if (wire === null || typeof wire !== 'object') throw new TypeError('transaction must be an object');
  const keys = Object.keys(wire).sort().join(',');
  if (keys !== 'chainId,data,gas,maxFeePerGas,maxPriorityFeePerGas,nonce,to,type,value') {
    throw new TypeError('transaction has missing or unexpected fields');
  }
  if (wire.type !== 'eip1559') throw new TypeError('only EIP-1559 transactions are signed');
  if (!Number.isSafeInteger(wire.chainId) || wire.chainId < 1)
    throw new TypeError('chainId must be a positive integer');
  if (!Number.isSafeInteger(wire.nonce) || wire.nonce < 0) throw new TypeError('nonce must be a non-negative integer');
  if (typeof wire.to !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(wire.to)) throw new TypeError('to must be an address');
  // All-lowercase or all-uppercase hex carries no checksum; mixed case must pass EIP-55.
  const to = getAddress(wire.to.toLowerCase());
  const body = wire.to.slice(2);
  if (body !== body.toLowerCase() && body !== body.toUpperCase() && to !== wire.to) {
    throw new TypeError('to fails its EIP-55 checksum');
  }
  if (typeof wire.data !== 'string' || !/^0x(?:[0-9a-fA-F]{2})*$/.test(wire.data))
    throw new TypeError('data must be hex');
  for (const f of ['value', 'gas', 'maxFeePerGas', 'maxPriorityFeePerGas'] as const) {
    if (typeof wire[f] !== 'string' || !DIGITS.test(wire[f]) || BigInt(wire[f]) > MAX_UINT256) {
      throw new TypeError(`${f} must be a decimal string of at most 2^256 - 1`);
    }
  }
  return {
    type: 'eip1559',
    chainId: wire.chainId,
    nonce: wire.nonce,
    to,
    value: BigInt(wire.value),
    data: wire.data,
    gas: BigInt(wire.gas),
    maxFeePerGas: BigInt(wire.maxFeePerGas),
    maxPriorityFeePerGas: BigInt(wire.maxPriorityFeePerGas),
  };
}

export function toWireTransaction(tx: {
  chainId: number;
  nonce: number;
  to: Address;
  value: bigint;
  data: Hex;
  gas: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}): WireTransaction {
  return {
    type: 'eip1559',
    chainId: tx.chainId,
    nonce: tx.nonce,
    to: tx.to,
    value: tx.value.toString(),
    data: tx.data,
    gas: tx.gas.toString(),
    maxFeePerGas: tx.maxFeePerGas.toString(),
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas.toString(),
  };
}

/**
 * The digest a signing ticket binds: keccak256 of the unsigned EIP-1559 serialisation, i.e. exactly the hash the
 * signer's key signs. The signer recomputes it from the transaction it is handed, never trusting a digest it is told.
 */
export function transactionDigest(tx: TransactionSerializableEIP1559): Hex {
  return keccak256(serializeTransaction(tx));
}
