/**
 * A real stack for one test file: a fresh Postgres database, Redis, a fresh anvil, the signer as a child process
 * with a fresh keystore, generated ticket and JWT keys, and the gateway listening on a free port. Nothing is mocked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { createPublicClient, createWalletClient, http, parseEther, toHex, type Address, type PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  ANVIL_ACCOUNTS,
  createTestDatabase,
  guardChild,
  startAnvil,
  testRedisUrl,
  type Anvil,
  type TestDatabase,
} from '@clawd402/testkit';
import { generateKey } from '@clawd402/signer';
import { generateTicketKeyPair } from '@clawd402/signer-client';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type GatewayConfig } from '../../src/config.ts';
import { createPool } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createAgentWithKey } from '../../src/repositories/agents-repository.ts';
import { insertIntent } from '../../src/repositories/intents-repository.ts';
import { REST_ORIGIN } from '../../src/domain/origin.ts';
import { createUser } from '../../src/repositories/users-repository.ts';
import { hashPassword } from '../../src/lib/api-keys.ts';
import {
  TSX_LOADER,
  createSignerKeystore,
  startSignerProcess,
  type SignerProcess,
} from '../../src/dev/signer-process.ts';

const GATEWAY_SERVER = new URL('../../src/server.ts', import.meta.url).pathname;
/** The gateway as the image runs it: compiled JavaScript (`pnpm build`), workspace packages from their dist/. */
const GATEWAY_SERVER_COMPILED = new URL('../../dist/server.js', import.meta.url).pathname;

/**
 * Every rate limit out of the way, as the stack's gateways run (test files share one Redis and one address);
 * rate-limit.int.test.ts tests the limits, and the bench compares against them.
 */
export const RATE_LIMITS_OFF: Readonly<Record<string, string>> = {
  RATE_LIMIT_IP_PER_MIN: '1000000',
  RATE_LIMIT_PRINCIPAL_PER_MIN: '1000000',
  RATE_LIMIT_PRINCIPAL_BURST: '1000000',
  RATE_LIMIT_INTENTS_PER_MIN: '1000000',
  RATE_LIMIT_AUTH_PER_MIN: '1000000',
  RATE_LIMIT_ADMIN_PER_MIN: '1000000',
  RATE_LIMIT_INTENT_READS_PER_MIN: '1000000',
};

/** Anvil's public, well-known dev accounts 1–9 (never real funds): the recipients test policies allow. */
export const RECIPIENTS = ANVIL_ACCOUNTS.slice(1).map((a) => a.address as Address);

/** Test policy: transfers of at most 100 units (any asset) to anvil accounts 1–9 are approved; nothing else. */
export const TEST_POLICY = `
policies:
  - name: small_transfers_to_dev_accounts
    conditions:
      transaction_type: transfer
      max_value: "100"
      recipient_whitelist: [${RECIPIENTS.map((r) => `"${r}"`).join(', ')}]
    action: auto_approve
`;

export interface Stack {
  dir: string;
  anvil: Anvil;
  db: TestDatabase;
  pool: pg.Pool;
  signer: SignerProcess;
  signerAddress: Address;
  /** The HD keys asked for with `signerHdKeys`, each funded with 1,000 ETH (empty unless asked for). */
  signerHdAddresses: Address[];
  /** The signer's log file with `signerLog` (null: it logs to stderr). */
  signerLogPath: string | null;
  chain: PublicClient;
  app: FastifyInstance;
  baseUrl: string;
  agent: { agentId: string; apiKey: string };
  /** Environment for running more gateway processes against the same stack. */
  env: Record<string, string>;
  config: GatewayConfig;
  token(apiKey?: string): Promise<string>;
  /** A new agent with an API key, bound to `signerAddress` (default: the stack's keystore key). */
  newAgent(name?: string, signerAddress?: Address): Promise<{ agentId: string; apiKey: string }>;
  /** Start another gateway as a separate OS process; resolves with its base URL. */
  spawnGateway(
    extraEnv?: Record<string, string>,
    /** Node options before the script (`--cpu-prof`…, which NODE_OPTIONS refuses). */
    nodeArgs?: readonly string[],
    /** `compiled`: run `dist/server.js` as the image does (run `pnpm build` first) instead of the sources through tsx. */
    runtime?: 'tsx' | 'compiled',
    /** The node executable (default: this process's own; the bench's BENCH_GATEWAY_NODE). */
    node?: string,
  ): Promise<{ baseUrl: string; pid: number; stop(): Promise<void> }>;
  /** Create a user with `role` (username `<role>-<n>`) and return an access token for it. */
  loginAs(role: 'owner' | 'admin' | 'operator' | 'approver' | 'viewer'): Promise<string>;
  /** Stop and start the signer (e.g. to test a signer outage), with `extraEnv` added to its environment. */
  restartSigner(extraEnv?: Record<string, string>): Promise<void>;
  /** The owners' Ed25519 release private key (PKCS#8 PEM) whose public half the signer trusts (docs/killswitch.md). */
  releaseKeyPem: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  policy?: string;
  /** Start the receipt tracker inside the in-process gateway (default true). */
  tracker?: boolean;
  anvilArgs?: { noMining?: boolean; blockTime?: number; extraArgs?: string[] };
  /** Extra gateway environment (wins over the defaults below). */
  env?: Record<string, string>;
  /** Admin URL of the Postgres server to create the stack's database on (default: the shared test server). */
  databaseAdminUrl?: string;
  /** Also serve this many keys of one HD wallet (a key directory beside the keystore), each funded (the bench's fleet). */
  signerHdKeys?: number;
  /** The signer logs at info to `Stack.signerLogPath` (a file) instead of warn to stderr. */
  signerLog?: boolean;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'clawd402-it-'));
  const cleanups: (() => Promise<void>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const [anvil, db] = await Promise.all([
      startAnvil(options.anvilArgs ?? {}),
      createTestDatabase(options.databaseAdminUrl),
    ]);
    cleanups.push(
      () => anvil.stop(),
      () => db.drop(),
    );

    const ticket = generateTicketKeyPair();
    const files = {
      ticketPrivate: join(dir, 'ticket.pem'),
      ticketPublic: join(dir, 'ticket.pub.pem'),
      jwt: join(dir, 'jwt.pem'),
      password: join(dir, 'signer-password'),
      keystore: join(dir, 'keystore.json'),
      policy: join(dir, 'policy.yaml'),
      socket: join(dir, 'signer/signer.sock'),
      secrets: join(dir, 'secrets.key'),
      releasePublic: join(dir, 'release.pub.pem'),
    };
    const release = generateKeyPairSync('ed25519');
    writeFileSync(files.releasePublic, release.publicKey.export({ type: 'spki', format: 'pem' }));
    const releaseKeyPem = release.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileSync(files.secrets, randomBytes(32).toString('hex'), { mode: 0o600 });
    writeFileSync(files.ticketPrivate, ticket.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.ticketPublic, ticket.publicKeyPem);
    writeFileSync(
      files.jwt,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );
    writeFileSync(files.password, randomBytes(16).toString('hex'), { mode: 0o600 });
    writeFileSync(files.policy, options.policy ?? TEST_POLICY);

    const signerAddress = await createSignerKeystore({
      out: files.keystore,
      passwordFile: files.password,
      scryptN: 1024,
      cwd: dir,
    });
    const keyDir = join(dir, 'signer-keys');
    const signerHdAddresses: Address[] = [];
    if (options.signerHdKeys) {
      mkdirSync(keyDir, { mode: 0o700 });
      const password = readFileSync(files.password, 'utf8').trim();
      for (let i = 0; i < options.signerHdKeys; i++)
        signerHdAddresses.push((await generateKey(keyDir, { password, scryptN: 1024, hdWallet: 'fleet' })).address);
    }
    const signerOptions = {
      socket: files.socket,
      keystores: [files.keystore],
      ...(options.signerHdKeys ? { keyDir } : {}),
      passwordFile: files.password,
      gatewayKeyFile: files.ticketPublic,
      chains: [anvil.chainId],
      journal: join(dir, 'journal.log'),
      checkpointDir: join(dir, 'signer-checkpoints'),
      releaseKeyFile: files.releasePublic,
      logLevel: options.signerLog ? 'info' : 'warn',
      ...(options.signerLog ? { logFile: join(dir, 'signer.log') } : {}),
      cwd: dir,
    };
    // Every child is guarded: it dies with this test file however the file ends (child-guard.ts in the testkit).
    let signer = await startSignerProcess(signerOptions);
    guardChild(signer.child);
    cleanups.push(() => signer.stop());

    // Fund the signer key from anvil's dev account 0.
    const chain = createPublicClient({ transport: http(anvil.rpcUrl) }) as PublicClient;
    const funder = createWalletClient({
      account: privateKeyToAccount(ANVIL_ACCOUNTS[0].privateKey as `0x${string}`),
      transport: http(anvil.rpcUrl),
    });
    const fundHash = await funder.sendTransaction({ to: signerAddress, value: parseEther('1000'), chain: null });
    await chain.waitForTransactionReceipt({ hash: fundHash });
    for (const address of signerHdAddresses)
      await chain.request({
        method: 'anvil_setBalance' as never,
        params: [address, toHex(parseEther('1000'))] as never,
      });

    const env: Record<string, string> = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: process.env.STACK_LOG_LEVEL ?? 'warn', // STACK_LOG_LEVEL=info to see a failing run's gateway logs
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      CHAIN_RPC_URLS: `${anvil.chainId}=${anvil.rpcUrl}`,
      SIGNER_SOCKET: files.socket,
      TICKET_PRIVATE_KEY_FILE: files.ticketPrivate,
      JWT_PRIVATE_KEY_FILE: files.jwt,
      SECRETS_KEY_FILE: files.secrets,
      POLICY_FILE: files.policy,
      ...RATE_LIMITS_OFF,
      TRACKER_INTERVAL_MS: '200',
      // Breakers far away unless a test is about them (the defaults, 100–1,000 USD a day, would trip in most tests).
      CIRCUIT_BREAKER_WARNING: '100000000',
      CIRCUIT_BREAKER_SOFT: '100000000',
      CIRCUIT_BREAKER_HARD: '100000000',
      CIRCUIT_BREAKER_EMERGENCY: '100000000',
      ...options.env,
    };
    const config = loadConfig(env);
    const pool = createPool(db.url, 5);
    cleanups.push(() => pool.end());
    await migrate(pool);
    const app = await buildApp(config, { logger: false, tracker: options.tracker ?? true });
    cleanups.push(() => app.close());
    const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });

    let agentCount = 0;
    const newAgent = async (name?: string, boundTo = signerAddress): Promise<{ agentId: string; apiKey: string }> => {
      agentCount += 1;
      const created = await createAgentWithKey(pool, {
        name: name ?? `agent-${agentCount}-${randomBytes(3).toString('hex')}`,
        signerAddress: boundTo,
      });
      return { agentId: created.agentId, apiKey: created.apiKey };
    };
    const agent = await newAgent();

    const token = async (apiKey = agent.apiKey): Promise<string> => {
      const res = await fetch(`${baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey }),
      });
      if (res.status !== 200) throw new Error(`token exchange failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { access_token: string }).access_token;
    };

    let userCount = 0;
    const loginAs = async (role: 'owner' | 'admin' | 'operator' | 'approver' | 'viewer'): Promise<string> => {
      userCount += 1;
      const username = `${role}-${userCount}`;
      const password = randomBytes(12).toString('hex');
      await createUser(pool, { username, passwordHash: await hashPassword(password), role });
      const res = await fetch(`${baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { access_token: string }).access_token;
    };

    const spawnGateway = async (
      extraEnv: Record<string, string> = {},
      nodeArgs: readonly string[] = [],
      runtime: 'tsx' | 'compiled' = 'tsx',
      node: string = process.execPath,
    ): Promise<{ baseUrl: string; pid: number; stop(): Promise<void> }> => {
      const entry =
        runtime === 'compiled'
          ? ['--conditions=clawd402-dist', GATEWAY_SERVER_COMPILED]
          : ['--import', TSX_LOADER, GATEWAY_SERVER];
      const child: ChildProcess = spawn(node, [...nodeArgs, ...entry], {
        env: { ...process.env, ...env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      guardChild(child);
      const stopChild = async (): Promise<void> => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      };
      cleanups.push(stopChild);
      // Only this listener goes once it listens: the guard's own 'exit' listener must stay to disarm it.
      let exitedEarly = (_code: number | null): void => {};
      const url = await new Promise<string>((resolve, reject) => {
        exitedEarly = (code) => reject(new Error(`gateway process exited with ${code}`));
        child.once('exit', exitedEarly);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          try {
            const event = JSON.parse(line) as { event?: string; url?: string };
            if (event.event === 'listening' && event.url) resolve(event.url);
          } catch {
            process.stderr.write(`${line}\n`); // the child's log lines (LOG_LEVEL=warn): keep them visible
            return;
          }
          if (!line.includes('"event":"listening"')) process.stderr.write(`${line}\n`);
        });
      });
      child.off('exit', exitedEarly);
      return { baseUrl: url, pid: child.pid!, stop: stopChild };
    };

    const restartSigner = async (extraEnv?: Record<string, string>): Promise<void> => {
      await signer.stop();
      signer = await startSignerProcess({ ...signerOptions, ...(extraEnv ? { env: extraEnv } : {}) });
      guardChild(signer.child);
    };

    return {
      dir,
      anvil,
      db,
      pool,
      get signer() {
        return signer;
      },
      signerAddress,
      signerHdAddresses,
      signerLogPath: options.signerLog ? join(dir, 'signer.log') : null,
      chain,
      app,
      baseUrl,
      agent,
      env,
      config,
      token,
      newAgent,
      spawnGateway,
      loginAs,
      restartSigner,
      releaseKeyPem,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** POST /v1/intents with a bearer token; returns status, parsed body and headers. */
export async function postIntent(
  baseUrl: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${baseUrl}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A JSON request with a bearer token; answers status and parsed body (null when empty). */
export async function callJson(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function getJson(url: string, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

/** The `n` of a `SELECT count(*)::int AS n …` query. */
export async function count(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  return (await pool.query<{ n: number }>(sql, params)).rows[0]!.n;
}

/** Poll GET /v1/intents/:id until its status is one of `statuses` (bounded; no timing assertion). */
export async function waitForStatus(
  baseUrl: string,
  token: string,
  id: string,
  statuses: string[],
  attempts = 150,
): Promise<any> {
  let last: any;
  for (let i = 0; i < attempts; i += 1) {
    last = (await getJson(`${baseUrl}/v1/intents/${id}`, token)).body;
    if (statuses.includes(last.status)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`intent ${id} stayed ${last?.status}; wanted ${statuses.join('|')}`);
}

/**
 * Stores an approved native transfer of 1 wei to RECIPIENTS[0] straight in Postgres, with its decision record, as a
 * process would leave it between deciding and signing; answers its id.
 */
export async function insertApprovedTransfer(
  stack: Stack,
  { agentId, from }: { agentId: string; from: Address } = { agentId: stack.agent.agentId, from: stack.signerAddress },
): Promise<string> {
  const id = randomUUID();
  const apiKeyId = (await stack.pool.query('SELECT id FROM api_keys WHERE agent_id = $1 LIMIT 1', [agentId])).rows[0]
    .id;
  await insertIntent(
    stack.pool,
    {
      id,
      agentId,
      apiKeyId,
      idempotencyKey: null,
      requestHash: 'x',
      status: 'approved',
      type: 'transfer',
      chainId: 31337,
      from,
      to: RECIPIENTS[0]!,
      recipient: RECIPIENTS[0]!,
      asset: 'native',
      amount: 1n,
      decimals: 18,
      data: null,
      memo: null,
      origin: REST_ORIGIN,
      decision: {
        action: 'auto_approve',
        policy: 'small_transfers_to_dev_accounts',
        policySetHash: 'sha256:0',
        reasons: [],
      },
    },
    { actor: `agent:${agentId}`, action: 'intent.decided', subject: `intent:${id}`, data: {} },
  );
  return id;
}

/** An intent body: a native transfer of `amount` (default 1 wei) to anvil's dev account 1 on the dev chain. */
export function nativeTransfer(amount = '1', to: string = RECIPIENTS[0]!) {
  return { type: 'transfer', chainId: 31337, to, asset: 'native', amount } as const;
}
