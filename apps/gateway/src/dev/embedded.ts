/**
 * Embedded default: `pnpm start` with no configuration. Brings up, under `.clawd402/` at the repo root:
 *   PGlite (served to the `pg` driver over a Unix socket, so the production code path runs), anvil as chain 31337
 *   (state persisted), a generated dev keystore funded on anvil, the signer as a separate process on a Unix socket,
 *   generated ticket and JWT keys, a dev agent with an API key, and the gateway on 127.0.0.1:8402.
 * DATABASE_URL, REDIS_URL and CHAIN_RPC_URLS, when set, replace the embedded parts. Ctrl-C stops every child.
 * Production refuses all of this (NODE_ENV=production exits before anything starts).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { createPublicClient, http, parseEther, type Address } from 'viem';
import { startAnvil, type Anvil } from '@clawd402/testkit/anvil';
import { generateTicketKeyPair } from '@clawd402/signer-client';
import { envReader, loadConfig, type GatewayConfig } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { migrate } from '../db/migrate.ts';
import { createAgentWithKey } from '../repositories/agents-repository.ts';
import { revokeUserSessions } from '../repositories/sessions-repository.ts';
import { createUser } from '../repositories/users-repository.ts';
import { hashPassword } from '../lib/api-keys.ts';
import { parseSecretsKey } from '../security/secret-box.ts';
import { startServer } from '../server.ts';
import { createSignerKeystore, startSignerProcess } from './signer-process.ts';

export const REPO_ROOT = new URL('../../../../', import.meta.url).pathname;
// The dev policy lives with the policy package, whose tests check it decides as documented.
const DEV_POLICY = join(REPO_ROOT, 'packages/policy/examples/dev-policy.yaml');

export interface DevCredentials {
  baseUrl: string;
  agentApiKey: string;
  agentId: string;
  ownerUsername: string;
  ownerPassword: string;
  chainId: number;
  rpcUrl: string;
  signerAddress: Address;
}

export interface EmbeddedGateway {
  credentials: DevCredentials;
  stop(): Promise<void>;
}

function secretFile(path: string, make: () => string): string {
  if (!existsSync(path)) writeFileSync(path, make(), { mode: 0o600 });
  chmodSync(path, 0o600);
  return readFileSync(path, 'utf8');
}

function log(message: string): void {
  process.stderr.write(`[clawd402] ${message}\n`);
}

/** Start everything. `port` defaults to PORT or 8402; `stateDir` to `.clawd402/` at the repo root. */
export async function startEmbedded(
  options: { port?: number; stateDir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<EmbeddedGateway> {
  const env = options.env ?? process.env;
  const read = envReader(env);
  if (read.context.production) {
    throw new Error(
      'NODE_ENV=production refuses the embedded default (PGlite, anvil, dev keystore). Configure real services and run `pnpm --filter @clawd402/gateway start`.',
    );
  }
  const state = options.stateDir ?? read('CLAWD402_STATE_DIR') ?? join(REPO_ROOT, '.clawd402');
  for (const dir of ['', 'keys', 'signer', 'pg', 'anvil'])
    mkdirSync(join(state, dir), { recursive: true, mode: 0o700 });
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const fn of stops.reverse()) await fn().catch((error: unknown) => log(`stop: ${(error as Error).message}`));
    stops.length = 0;
  };

  try {
    // Keys: ticket signing (Ed25519), access tokens (RSA 2048), signer keystore password.
    const ticketPrivate = join(state, 'keys/ticket-ed25519.pem');
    const ticketPublic = join(state, 'keys/ticket-ed25519.pub.pem');
    if (!existsSync(ticketPrivate) || !existsSync(ticketPublic)) {
      const pair = generateTicketKeyPair();
      writeFileSync(ticketPrivate, pair.privateKeyPem, { mode: 0o600 });
      writeFileSync(ticketPublic, pair.publicKeyPem, { mode: 0o644 });
    }
    const jwtPem = secretFile(join(state, 'keys/jwt-rsa.pem'), () =>
      generateKeyPairSync('rsa', { modulusLength: 2048 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    );
    const secretsKey = secretFile(join(state, 'keys/secrets.key'), () => randomBytes(32).toString('hex'));
    const passwordFile = join(state, 'signer/password');
    secretFile(passwordFile, () => randomBytes(32).toString('hex'));

    // Chain: the configured RPC, or anvil with its state persisted across restarts (nonces in Postgres stay true).
    let rpcUrl: string;
    let chainId = 31337;
    const configuredChains = read('CHAIN_RPC_URLS');
    if (configuredChains?.size) {
      const [first] = configuredChains;
      chainId = first![0];
      rpcUrl = first![1][0]!; // "id=primary|fallback": the launcher needs the first chain's primary
    } else {
      const anvil: Anvil = await startAnvil({
        port: read('ANVIL_PORT'),
        chainId,
        extraArgs: ['--state', join(state, 'anvil/state.json')],
      });
      stops.push(() => anvil.stop());
      rpcUrl = anvil.rpcUrl;
      log(`anvil (chain ${chainId}) on ${rpcUrl}`);
    }

    // Signer: a dev keystore generated inside the signer process, then the signer itself on a private socket.
    const keystore = join(state, 'signer/keystore.json');
    if (!existsSync(keystore)) await createSignerKeystore({ out: keystore, passwordFile, cwd: state });
    const socket = join(state, 'signer/run/signer.sock');
    // The signer's own caps, independent of the gateway: even a compromised gateway cannot move more than this.
    const signerPolicy = join(state, 'signer/policy.yaml');
    if (!existsSync(signerPolicy)) {
      writeFileSync(
        signerPolicy,
        `# Dev signer caps (native units). The gateway's dev policy allows at most 1 ETH per transfer.\nversion: 1\ndefault:\n  chains: [${chainId}]\n  maxValuePerTx: "1.01"\n  maxValuePerDay: "100"\n  operations: [transaction, typed_data, personal_sign]\n`,
        { mode: 0o600 },
      );
    }
    const signerProcess = await startSignerProcess({
      socket,
      keystores: [keystore],
      passwordFile,
      gatewayKeyFile: ticketPublic,
      chains: [chainId],
      journal: join(state, 'signer/journal.log'),
      checkpointDir: join(state, 'signer/checkpoints'),
      policy: signerPolicy,
      cwd: state,
    });
    stops.push(() => signerProcess.stop());
    const signer = { address: signerProcess.addresses[0]! };
    log(`signer ${signer.address} on ${socket}`);
    if (!configuredChains?.size) {
      const client = createPublicClient({ transport: http(rpcUrl) });
      if ((await client.getBalance({ address: signer.address })) < parseEther('1')) {
        await client.request({
          method: 'anvil_setBalance' as never,
          params: [signer.address, `0x${parseEther('10000').toString(16)}`] as never,
        });
      }
    }

    // Database: the configured Postgres, or PGlite served over a Unix socket to a one-connection pool.
    let databaseUrl = read('DATABASE_URL');
    let poolMax = 20;
    if (!databaseUrl) {
      const db = await PGlite.create({ dataDir: join(state, 'pg/data') });
      const socketDir = join(state, 'pg/run');
      mkdirSync(socketDir, { recursive: true, mode: 0o700 });
      rmSync(join(socketDir, '.s.PGSQL.5432'), { force: true });
      // maxConnections > 1 only so a reconnect is not refused while the previous socket is still being torn down.
      const server = new PGLiteSocketServer({ db, path: join(socketDir, '.s.PGSQL.5432'), maxConnections: 4 });
      await server.start();
      stops.push(async () => {
        await server.stop();
        await db.close();
      });
      databaseUrl = `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`;
      // PGlite is one Postgres backend: connections would share a session, so transactions must not interleave.
      poolMax = 1;
      log(`PGlite at ${join(state, 'pg/data')}`);
    }

    // Principals: the owner and a dev agent bound to the signer key, with credentials written once, 0600.
    const credentialsPath = join(state, 'dev-credentials.json');
    const port = options.port ?? read('PORT');
    const baseUrl = `http://127.0.0.1:${port}`;
    const pool = createPool(databaseUrl, 1);
    let credentials: DevCredentials;
    try {
      await migrate(pool);
      const previous = existsSync(credentialsPath)
        ? (JSON.parse(readFileSync(credentialsPath, 'utf8')) as DevCredentials)
        : null;
      const agent = previous
        ? await pool.query<{ id: string }>('SELECT id FROM agents WHERE id = $1 AND signer_address = $2', [
            previous.agentId,
            signer.address,
          ])
        : { rows: [] };
      if (previous && agent.rows.length === 1) {
        credentials = { ...previous, baseUrl, chainId, rpcUrl };
      } else {
        const ownerPassword = randomBytes(18).toString('base64url');
        // Reset the owner in place (sessions and agents reference the row) and end its old sessions.
        const passwordHash = await hashPassword(ownerPassword);
        const reset = await pool.query<{ id: string }>(
          "UPDATE users SET password_hash = $1, password_changed_at = now() WHERE username = 'owner' RETURNING id",
          [passwordHash],
        );
        if (reset.rows[0]) await revokeUserSessions(pool, reset.rows[0].id, 'dev_credentials_reset');
        else await createUser(pool, { username: 'owner', passwordHash, role: 'owner' });
        const name = `dev-agent-${randomBytes(3).toString('hex')}`;
        const created = await createAgentWithKey(pool, { name, signerAddress: signer.address });
        credentials = {
          baseUrl,
          agentApiKey: created.apiKey,
          agentId: created.agentId,
          ownerUsername: 'owner',
          ownerPassword,
          chainId,
          rpcUrl,
          signerAddress: signer.address,
        };
      }
    } finally {
      await pool.end();
    }
    writeFileSync(credentialsPath, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    chmodSync(credentialsPath, 0o600);

    const config: GatewayConfig = loadConfig(
      { ...env, PORT: String(port), NODE_ENV: env.NODE_ENV ?? 'development' },
      {
        mode: 'embedded',
        databaseUrl,
        redisUrl: read('REDIS_URL'),
        chains: [{ chainId, rpcUrl }],
        signerSocket: socket,
        ticketPrivateKeyPem: readFileSync(ticketPrivate, 'utf8'),
        jwtPrivateKeyPem: jwtPem,
        policyText: readFileSync(read('POLICY_FILE') ?? DEV_POLICY, 'utf8'),
        policySource: read('POLICY_FILE') ?? DEV_POLICY,
        databasePoolMax: poolMax,
        secretsKey: parseSecretsKey(secretsKey),
      },
    );
    const server = await startServer(config);
    stops.push(async () => void (await server.shutdown())); // bounded: long-polls answer at once, then at most SHUTDOWN_DEADLINE_MS
    return { credentials, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export function curlExample(c: DevCredentials): string {
  return [
    `TOKEN=$(curl -s ${c.baseUrl}/auth/token -H 'content-type: application/json' \\`,
    `  -d '{"apiKey":"${c.agentApiKey}"}' | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    `curl -s ${c.baseUrl}/v1/intents -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
    `  -d '{"type":"transfer","chainId":${c.chainId},"to":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","asset":"native","amount":"0.01"}'`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const gateway = await startEmbedded();
    const c = gateway.credentials;
    process.stdout.write(
      `\nClawd402 gateway (embedded dev mode) listening on ${c.baseUrl}\n` +
        `Credentials: .clawd402/dev-credentials.json (agent API key, owner login, signer ${c.signerAddress})\n` +
        `Console: ${c.baseUrl}/console (sign in with ownerUsername and ownerPassword from the credentials file)\n\n` +
        `Try it:\n${curlExample(c)}\n\nCtrl-C stops the gateway, the signer, anvil and PGlite.\n`,
    );
    let stopping = false;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (stopping) return;
        stopping = true;
        log('stopping…');
        void gateway.stop().then(() => process.exit(0));
      });
    }
  } catch (error) {
    log(`failed to start: ${(error as Error).message}`);
    process.exit(1);
  }
}
