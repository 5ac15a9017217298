/**
 * Send 0.01 ETH with unmodified ethers v6: a JsonRpcProvider on the gateway's JSON-RPC endpoint, its JsonRpcSigner as
 * the wallet (docs/json-rpc.md). `tx.wait()` reads the receipt through the same endpoint.
 *
 *   pnpm --filter @clawd402/examples ethers-transfer   (against `pnpm start`, or CLAWD402_API_URL/_API_KEY/_CHAIN_ID)
 */
import { FetchRequest, JsonRpcProvider, parseEther } from 'ethers';
import { RECIPIENT, bearerToken, gatewaySettings } from './rpc-settings.ts';

const settings = gatewaySettings();
const request = new FetchRequest(new URL(`/rpc/${settings.chainId}`, settings.apiUrl).toString());
request.setHeader('authorization', `Bearer ${await bearerToken(settings)}`);
const provider = new JsonRpcProvider(request, settings.chainId, { staticNetwork: true, pollingInterval: 250 });

const signer = await provider.getSigner(); // eth_accounts: the agent's signer address
const tx = await signer.sendTransaction({ to: RECIPIENT, value: parseEther('0.01') });
const receipt = await tx.wait(1, 120_000);
console.log(JSON.stringify({ from: await signer.getAddress(), hash: tx.hash, status: receipt?.status ?? null }));
provider.destroy();
