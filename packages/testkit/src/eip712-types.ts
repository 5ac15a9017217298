/**
 * The EIP-712 types of the token signatures tests sign, send and decode: an EIP-2612 permit and an EIP-3009
 * transfer authorisation (x402), with a builder for a whole permit payload and one for any struct's fields.
 */
export const PERMIT_TYPES: Record<'Permit', { name: string; type: string }[]> = {
  Permit: [
    { name: 'owner', type: 'address' },
    { name: 'spender', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
};

export const TRANSFER_WITH_AUTHORIZATION_TYPES: Record<'TransferWithAuthorization', { name: string; type: string }[]> =
  {
    TransferWithAuthorization: [
      { name: 'from', type: 'address' },
      { name: 'to', type: 'address' },
      { name: 'value', type: 'uint256' },
      { name: 'validAfter', type: 'uint256' },
      { name: 'validBefore', type: 'uint256' },
      { name: 'nonce', type: 'bytes32' },
    ],
  };

/** An EIP-2612 permit payload: `domain` and `message` as given (integers in whatever notation the test sends). */
export function permitTypedData<Domain, Message>(domain: Domain, message: Message) {
  return { domain, types: PERMIT_TYPES, primaryType: 'Permit' as const, message };
}

/** EIP-712 struct fields written as encodeType writes them: `eip712Fields('address owner,uint256 value')`. */
export function eip712Fields(declaration: string): { name: string; type: string }[] {
  return declaration.split(',').map((field) => {
    const [type, name] = field.split(' ') as [string, string];
    return { name, type };
  });
}
