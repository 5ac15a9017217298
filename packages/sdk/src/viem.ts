import { getAddress, toHex, type Address, type Hex, type LocalAccount } from 'viem';
import { toAccount } from 'viem/accounts';
import type { Clawd402Client, ExecuteResult } from './client.ts';
import { Clawd402ClientError } from './errors.ts';

export interface ViemAccountOptions {
  /** The agent's signer address (the operator binds it to the API key; `pnpm start` prints it). */
  address: Address;
  /** The chain signature intents are decided for (default: the typed data's domain, else the client's chain). */
  chainId?: number;
}

/**
 * A viem account whose signatures are made by the gateway: `signMessage` and `signTypedData` become signature intents
 * (policy-checked, audited, signed by the signer), so they work with any viem API that takes an account. The gateway
 * never hands out a signed transaction to broadcast elsewhere, so `signTransaction` throws
 * `sign_transaction_unsupported`: send transactions with `client.execute` (or through the gateway's `/rpc`).
 *
 * @example
 * const account = toViemAccount(client, { address: '0xf39F…2266' })
 * const signature = await account.signMessage({ message: 'hello' })
 */
export function toViemAccount(client: Clawd402Client, options: ViemAccountOptions): LocalAccount {
  const address = getAddress(options.address);
  const signed = (result: ExecuteResult): Hex => {
    if (result.intent.from === null || getAddress(result.intent.from) !== address) {
      throw new Clawd402ClientError('signer_address_mismatch', {
        details: { expected: address, signedBy: result.intent.from },
        intent: result.intent,
      });
    }
    if (result.signature === null) {
      throw new Clawd402ClientError('invalid_response', { message: 'The intent ended without a signature.' });
    }
    return result.signature as Hex;
  };
  return toAccount({
    address,
    async signMessage({ message }) {
      const body =
        typeof message === 'string'
          ? message
          : { raw: typeof message.raw === 'string' ? message.raw : toHex(message.raw) };
      const chainId = options.chainId ?? client.chainId;
      return signed(
        await client.execute({ action: 'sign_message', message: body, ...(chainId !== undefined ? { chainId } : {}) }),
      );
    },
    async signTypedData(parameters) {
      const typedData = parameters as unknown as {
        domain?: Record<string, unknown>;
        types: Record<string, readonly { name: string; type: string }[]>;
        primaryType: string;
        message: Record<string, unknown>;
      };
      const domainChain = typedData.domain?.chainId;
      const chainId = options.chainId ?? (domainChain !== undefined ? Number(domainChain) : client.chainId);
      return signed(
        await client.execute({
          action: 'sign_typed_data',
          typedData: {
            domain: typedData.domain ?? {},
            types: typedData.types,
            primaryType: typedData.primaryType,
            message: typedData.message,
          },
          ...(chainId !== undefined ? { chainId } : {}),
        }),
      );
    },
    async signTransaction() {
      throw new Clawd402ClientError('sign_transaction_unsupported');
    },
  });
}
