/**
 * The EIP-712 types of the token signatures tests sign, send and decode: an EIP-2612 permit and an EIP-3009
 * transfer authorisation (x402), with a builder for a whole permit payload and one for any struct's fields.
 */

/** EIP-712 fields from a struct's member list as its encodeType spells it: `'address owner,uint256 value'`. */
export function eip712Fields(members: string): { name: string; type: string }[] {
  return members.split(',').map((member) => {
    const [type, name] = member.split(' ') as [string, string];
    return { name, type };
  });
}

/** The EIP712Domain type of a domain with a name, a version, a chain id and a verifying contract (USDC's, say). */
export const EIP712_DOMAIN_TYPES: Record<'EIP712Domain', { name: string; type: string }[]> = {
  EIP712Domain: eip712Fields('string name,string version,uint256 chainId,address verifyingContract'),
};

export const PERMIT_TYPES: Record<'Permit', { name: string; type: string }[]> = {
  Permit: eip712Fields('address owner,address spender,uint256 value,uint256 nonce,uint256 deadline'),
};

export const TRANSFER_WITH_AUTHORIZATION_TYPES: Record<'TransferWithAuthorization', { name: string; type: string }[]> =
  {
    TransferWithAuthorization: eip712Fields(
      'address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce',
    ),
  };

/** An EIP-2612 permit payload: `domain` and `message` as given (integers in whatever notation the test sends). */
export function permitTypedData<Domain, Message>(domain: Domain, message: Message) {
  return { domain, types: PERMIT_TYPES, primaryType: 'Permit' as const, message };
}
