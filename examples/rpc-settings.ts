/**
 * Where the examples find the gateway: CLAWD402_API_URL, CLAWD402_API_KEY and CLAWD402_CHAIN_ID in the environment, or
 * the embedded default's .clawd402/dev-credentials.json (written by `pnpm start`). The API key is exchanged once for a
 * short-lived bearer token (POST /auth/token); a long-running agent would exchange it again before it expires (the
 * SDK does: sdk-transfer.ts).
 */
import { readFileSync } from 'node:fs';

export interface GatewaySettings {
  apiUrl: string;
  apiKey: string;
  chainId: number;
}

export function gatewaySettings(): GatewaySettings {
  const { CLAWD402_API_URL: apiUrl, CLAWD402_API_KEY: apiKey, CLAWD402_CHAIN_ID: chainId } = process.env;
  if (apiUrl && apiKey) return { apiUrl, apiKey, chainId: Number(chainId ?? 31337) };
  const file = new URL('../.clawd402/dev-credentials.json', import.meta.url);
  const dev = JSON.parse(readFileSync(file, 'utf8')) as { baseUrl: string; agentApiKey: string; chainId: number };
  return { apiUrl: dev.baseUrl, apiKey: dev.agentApiKey, chainId: dev.chainId };
}

/** The agent's bearer token for /rpc: the API key never goes to the JSON-RPC endpoint itself. */
export async function bearerToken(settings: GatewaySettings): Promise<string> {
  const res = await fetch(new URL('/auth/token', settings.apiUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey: settings.apiKey }),
  });
  const body = (await res.json()) as { access_token?: string; code?: string };
  if (!res.ok || !body.access_token) throw new Error(`token exchange refused: ${res.status} ${body.code ?? ''}`);
  return body.access_token;
}

/** Anvil's well-known dev account 1 (a public test address, never real funds): the dev policy allows paying it. */
export const RECIPIENT = (process.env.CLAWD402_RECIPIENT ??
  '0x70997970C51812dc3A010C7d01b50e0d17dc79C8') as `0x${string}`;
