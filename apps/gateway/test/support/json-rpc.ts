/** Shared by the /rpc tests: a policy, viem clients pointed at the gateway's /rpc, and raw JSON-RPC calls. */
import {
  BaseError,
  RpcRequestError,
  createPublicClient,
  createWalletClient,
  http,
  type Address,
  type PublicClient,
  type WalletClient,
} from 'viem';
import { anvil } from 'viem/chains';
import { RECIPIENTS, type Stack } from './stack.ts';

/** Outside every rule: the policy's default deny answers for it. */
export const STRANGER: Address = '0x000000000000000000000000000000000000dEaD';

/**
 * ETH is 2,000 USD (the development default), TUSD 1 USD. Transfers (native or ERC-20, decoded) of at most 400 USD to
 * anvil accounts 1–9 are approved; from 500 USD they wait for a human; messages and `Mail` typed data are signed.
 */
export const RPC_POLICY = `
policies:
  - name: large_transfers_need_a_human
    conditions:
      transaction_type: transfer
      min_value_usd: 500
      recipient_whitelist: [${RECIPIENTS.map((r) => `"${r}"`).join(', ')}]
    action: require_human_approval
    notification: { channels: [ops], timeout: 600 }
  - name: small_transfers_to_dev_accounts
    conditions:
      transaction_type: transfer
      max_value_usd: 400
      recipient_whitelist: [${RECIPIENTS.map((r) => `"${r}"`).join(', ')}]
    action: auto_approve
  - name: messages
    conditions: { transaction_type: message }
    action: auto_approve
  - name: mail
    conditions: { transaction_type: typed_data, typed_data_primary_type: Mail }
    action: auto_approve
`;

export function rpcUrl(stack: Stack, chainId?: number): string {
  return chainId === undefined ? `${stack.baseUrl}/rpc` : `${stack.baseUrl}/rpc/${chainId}`;
}

/** viem's wallet client with the signer as its JSON-RPC account, and a public client, both over the gateway's /rpc. */
export function viemOverRpc(stack: Stack, token: string): { wallet: WalletClient; reader: PublicClient } {
  const transport = http(rpcUrl(stack), {
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    retryCount: 0,
  });
  return {
    wallet: createWalletClient({ account: stack.signerAddress, chain: anvil, transport }),
    reader: createPublicClient({ chain: anvil, transport, pollingInterval: 100 }),
  };
}

/** POST a raw JSON-RPC body to /rpc; answers the HTTP status and the parsed body. */
export async function rpcCall(
  stack: Stack,
  token: string,
  body: unknown,
  path = '/rpc',
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** One request object. */
export function request(id: number, method: string, params: unknown[] = []): object {
  return { jsonrpc: '2.0', id, method, params };
}

/** The JSON-RPC error a viem call failed with (its numeric code and data), found anywhere in viem's error chain. */
export function rpcErrorOf(error: unknown): { code: number; data: any } {
  if (!(error instanceof BaseError)) throw error;
  const found = error.walk((e) => e instanceof RpcRequestError) as RpcRequestError | null;
  if (!found) throw error;
  return { code: found.code, data: found.data };
}
