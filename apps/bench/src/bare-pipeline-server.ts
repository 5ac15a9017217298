/**
 * The composed bare-pipeline floor's server (bench.ts starts it as its own process, like a gateway): per request,
 * exactly the parts one signed intent cannot do without, in the pipeline's order and from the same parts —
 *
 *   HTTP (Fastify, JSON body) → JWT verify (jose, RS256) → one Redis call → one eth_simulateV1 on the same anvil →
 *   one audited Postgres transaction (BEGIN, INSERT, audit_append, COMMIT) → one signer round trip (ticket + sign)
 *
 * and nothing else: no policy, no limits, no nonce row, no broadcast. What the product does beyond this is the gap the
 * bench shows. Environment: DATABASE_URL, REDIS_URL, SIGNER_SOCKET, TICKET_PRIVATE_KEY_FILE, ANVIL_URL, BARE_FROM.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { SignJWT, generateKeyPair, jwtVerify } from 'jose';
import { keccak256, toHex } from 'viem';
import { createPool, appendAudit, withTransaction } from '@clawd402/gateway';
import { simulateRequest } from './simulate-request.ts';
import { ticketedBenchTransfer } from './bench-transfer.ts';
import { SignerClient, TicketIssuer, loadTicketPrivateKey } from '@clawd402/signer-client';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const from = env('BARE_FROM') as `0x${string}`;
const anvil = env('ANVIL_URL');
const pool = createPool(env('DATABASE_URL'), Number(process.env.DATABASE_POOL_MAX ?? 20));
const redis = new Redis(env('REDIS_URL'));
const signer = new SignerClient({ socketPath: env('SIGNER_SOCKET'), connections: 4, timeoutMs: 30_000 });
const tickets = new TicketIssuer({
  privateKey: loadTicketPrivateKey(readFileSync(env('TICKET_PRIVATE_KEY_FILE'), 'utf8')),
  keyId: 'bench-bare',
  lifetimeSeconds: 60,
});
const { publicKey, privateKey } = await generateKeyPair('RS256');
const token = await new SignJWT({ role: 'agent' })
  .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
  .setSubject('agent:bench')
  .setIssuer('bench')
  .setAudience('bench')
  .setIssuedAt()
  .setExpirationTime('1h')
  .sign(privateKey);
await pool.query('CREATE TABLE IF NOT EXISTS bench_bare_floor (id uuid PRIMARY KEY, body jsonb NOT NULL)');
let nonce = 0;

const app = Fastify({ logger: false });
app.get('/token', async () => ({ token }));
app.post('/bare', async (request, reply) => {
  const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  await jwtVerify(bearer, publicKey, { algorithms: ['RS256'], issuer: 'bench', audience: 'bench' });
  await redis.incr('bench-bare-floor');
  const body = request.body as { to: `0x${string}`; amount: string };
  const simulated = await fetch(anvil, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(simulateRequest(from, body.to, 1n)),
  });
  const answer = (await simulated.json()) as { result?: unknown; error?: unknown };
  if (!answer.result) throw new Error('eth_simulateV1 failed');
  const id = randomUUID();
  await withTransaction(pool, async (client) => {
    await client.query('INSERT INTO bench_bare_floor (id, body) VALUES ($1, $2)', [id, JSON.stringify(body)]);
    await appendAudit(client, { actor: 'system:bench', action: 'bench.bare', subject: `bare:${id}`, data: body });
  });
  const job = await ticketedBenchTransfer(tickets, from, keccak256(toHex(id)), nonce++, body.to);
  const signed = await signer.signTransaction(job);
  return reply.code(201).send({ id, hash: signed.hash });
});

const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${url}\n`);
const stop = async (): Promise<void> => {
  await app.close();
  await Promise.allSettled([pool.end(), redis.quit(), signer.close()]);
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
