/**
 * Send 0.01 ETH with unmodified viem, pointing its transport at the gateway's JSON-RPC endpoint (docs/json-rpc.md):
 * the gateway is the wallet. `eth_sendTransaction` becomes an intent under policy; the hash comes back only once the
 * transaction is signed and broadcast; a denial is an error carrying the gateway's code.
 *
 *   pnpm --filter @clawd402/examples viem-transfer     (against `pnpm start`, or CLAWD402_API_URL/_API_KEY/_CHAIN_ID)
 */
import { createPublicClient, createWalletClient, defineChain, http, parseEther } from 'viem';
import { RECIPIENT, bearerToken, gatewaySettings } from './rpc-settings.ts';

const settings = gatewaySettings();
const transport = http(new URL(`/rpc/${settings.chainId}`, settings.apiUrl).toString(), {
  fetchOptions: { headers: { authorization: `Bearer ${await bearerToken(settings)}` } },
});
const chain = defineChain({
  id: settings.chainId,
  name: `chain ${settings.chainId}`,
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [] } },
});
const wallet = createWalletClient({ chain, transport });
const reader = createPublicClient({ chain, transport, pollingInterval: 250 });

const [account] = await wallet.getAddresses(); // eth_accounts: the agent's signer address
const hash = await wallet.sendTransaction({ account: account!, to: RECIPIENT, value: parseEther('0.01') });
const receipt = await reader.waitForTransactionReceipt({ hash, timeout: 120_000 });
console.log(JSON.stringify({ from: account, hash, status: receipt.status, block: receipt.blockNumber.toString() }));
