/**
 * The host side of deploy/test/compose-smoke.sh: what a test needs that the compose stack does not do by itself.
 *   anvil PORT                      run anvil (chain 31337) on 127.0.0.1:PORT until SIGTERM; prints {"event":"ready"}
 *   fund RPC ADDRESS                give ADDRESS 100 ETH on anvil
 *   seed DATABASE_URL ADDRESS       an agent bound to the signer's ADDRESS and the native coin's USD price (production
 *                                   has no development price); prints {"apiKey"} — the operator's first-run steps
 *   intent SUBMIT_URL READ_URL API_KEY RPC
 *                                   a 0.01 ETH transfer sent through one gateway replica, followed through the other
 *                                   until confirmed, then checked on the chain; prints what it saw
 * Every step has a deadline so a hang fails the smoke run.
 */
import { createAgentWithKey, createPool, upsertAsset } from '@clawd402/gateway';
import { startAnvil } from '@clawd402/testkit/anvil';
import { createPublicClient, http, parseEther, type Address, type Hash } from 'viem';

const RECIPIENT: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const [command, ...args] = process.argv.slice(2);

function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function anvil(port: number): Promise<void> {
  const chain = await startAnvil({ port, chainId: 31337 });
  out({ event: 'ready', rpcUrl: chain.rpcUrl });
  // startAnvil does not hold the event loop open; this timer does, until a signal arrives.
  const keepAlive = setInterval(() => {}, 60_000);
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  clearInterval(keepAlive);
  await chain.stop();
}

async function fund(rpcUrl: string, address: Address): Promise<void> {
  const client = createPublicClient({ transport: http(rpcUrl) });
  await client.request({
    method: 'anvil_setBalance' as never,
    params: [address, `0x${parseEther('100').toString(16)}`] as never,
  });
  out({ funded: address, balance: (await client.getBalance({ address })).toString() });
}

async function seed(databaseUrl: string, signerAddress: Address): Promise<void> {
  const pool = createPool(databaseUrl, 1);
  try {
    await upsertAsset(
      pool,
      {
        chainId: 31337,
        asset: 'native',
        symbol: 'ETH',
        decimals: 18,
        priceSource: { kind: 'static', usd: '2000', maxAgeSeconds: null },
      },
      'system:compose-smoke',
    );
    const agent = await createAgentWithKey(pool, { name: 'compose-smoke', signerAddress });
    out({ apiKey: agent.apiKey, agentId: agent.agentId });
  } finally {
    await pool.end();
  }
}

async function json<T>(response: Response, expected: number, what: string): Promise<T> {
  const body = await response.text();
  if (response.status !== expected) throw new Error(`${what}: HTTP ${response.status} ${body.slice(0, 300)}`);
  return JSON.parse(body) as T;
}

async function intent(submitUrl: string, readUrl: string, apiKey: string, rpcUrl: string): Promise<void> {
  const token = await json<{ access_token: string }>(
    await fetch(`${submitUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey }),
    }),
    200,
    'POST /auth/token',
  );
  const headers = { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' };
  const chain = createPublicClient({ transport: http(rpcUrl) });
  const before = await chain.getBalance({ address: RECIPIENT });
  const created = await json<{ id: string; status: string }>(
    await fetch(`${submitUrl}/v1/intents`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'transfer', chainId: 31337, to: RECIPIENT, asset: 'native', amount: '0.01' }),
    }),
    201,
    `POST ${submitUrl}/v1/intents`,
  );
  // Followed through the other replica: both read the same Postgres.
  let seen: { status: string; txHash?: Hash | null } = created;
  const deadline = Date.now() + 60_000;
  while (seen.status !== 'confirmed' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    seen = await json(
      await fetch(`${readUrl}/v1/intents/${created.id}`, { headers }),
      200,
      `GET ${readUrl}/v1/intents/:id`,
    );
    if (['rejected', 'failed', 'cancelled', 'expired'].includes(seen.status)) break;
  }
  if (seen.status !== 'confirmed')
    throw new Error(`intent ${created.id} ended ${seen.status}, not confirmed: ${JSON.stringify(seen).slice(0, 400)}`);
  const after = await chain.getBalance({ address: RECIPIENT });
  if (after - before !== parseEther('0.01'))
    throw new Error(`recipient balance moved by ${after - before} wei, not 0.01 ETH`);
  out({
    intent: created.id,
    status: seen.status,
    txHash: seen.txHash ?? null,
    recipientGainedWei: (after - before).toString(),
  });
}

const watchdog =
  command === 'anvil'
    ? null
    : setTimeout(() => {
        console.error(`smoke-driver ${command}: no result within 120 s`);
        process.exit(1);
      }, 120_000);
try {
  if (command === 'anvil') await anvil(Number(args[0]));
  else if (command === 'fund') await fund(args[0]!, args[1] as Address);
  else if (command === 'seed') await seed(args[0]!, args[1] as Address);
  else if (command === 'intent') await intent(args[0]!, args[1]!, args[2]!, args[3]!);
  else throw new Error(`unknown command ${command ?? ''}`);
  if (watchdog) clearTimeout(watchdog);
} catch (error) {
  console.error(`smoke-driver ${command}: ${(error as Error).message}`);
  process.exit(1);
}
