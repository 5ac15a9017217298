/**
 * Send 0.01 ETH through the gateway with @clawd402/sdk and wait until it is mined.
 *
 * Against the embedded default (`pnpm start` writes .clawd402/dev-credentials.json):
 *   pnpm --filter @clawd402/examples sdk-transfer
 * Against any gateway: CLAWD402_API_URL, CLAWD402_API_KEY and CLAWD402_CHAIN_ID in the environment.
 */
import { readFileSync } from 'node:fs';
import { Clawd402Client, Clawd402ClientError } from '@clawd402/sdk';

interface DevCredentials {
  baseUrl: string;
  agentApiKey: string;
  chainId: number;
}

function settings(): { apiUrl: string; apiKey: string; chainId: number } {
  const { CLAWD402_API_URL: apiUrl, CLAWD402_API_KEY: apiKey, CLAWD402_CHAIN_ID: chainId } = process.env;
  if (apiUrl && apiKey) return { apiUrl, apiKey, chainId: Number(chainId ?? 31337) };
  const file = new URL('../.clawd402/dev-credentials.json', import.meta.url);
  const dev = JSON.parse(readFileSync(file, 'utf8')) as DevCredentials;
  return { apiUrl: dev.baseUrl, apiKey: dev.agentApiKey, chainId: dev.chainId };
}

// Anvil's well-known dev account 1 (public test address, never real funds): the dev policy allows it.
const RECIPIENT = process.env.CLAWD402_RECIPIENT ?? '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

const client = new Clawd402Client(settings());
try {
  const before = await client.budget();
  const result = await client.execute({
    action: 'transfer',
    to: RECIPIENT,
    asset: 'native',
    amount: '0.01',
    wait: true,
  });
  console.log(
    JSON.stringify({
      id: result.intent.id,
      status: result.status,
      txHash: result.txHash,
      policy: result.decision?.policy ?? null,
      budgetBefore: before,
      budgetAfter: result.budget,
    }),
  );
} catch (error) {
  if (!(error instanceof Clawd402ClientError)) throw error;
  console.error(`refused: ${error.code}: ${error.message}`, JSON.stringify({ reasons: error.reasons }));
  process.exitCode = 1;
}
