import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const POSTGRES_ROOT = '/usr/lib/postgresql';

/**
 * A Postgres cluster of its own (initdb into a temporary directory, trust auth, a random port on 127.0.0.1), for tests
 * that stop the database: the machine's shared server on 5432 serves everyone else's tests and is never touched.
 */
export interface PrivatePostgres {
  /** Admin connection URL (`postgres://postgres@127.0.0.1:<port>/postgres`), e.g. for `createTestDatabase(url)`. */
  readonly adminUrl: string;
  readonly port: number;
  /** `pg_ctl stop -m fast`: open connections are cut, new ones refused. */
  stop(): Promise<void>;
  /** `pg_ctl start` on the same port and data; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Stop (if running) and delete the data directory. Safe to call more than once. */
  destroy(): Promise<void>;
}

/** The newest installed server's bin directory (`/usr/lib/postgresql/<major>/bin`), or `PG_BIN_DIR` when set. */
function binDir(): string {
  const configured = process.env.PG_BIN_DIR;
  if (configured !== undefined && configured !== '') return configured;
  const majors = existsSync(POSTGRES_ROOT)
    ? readdirSync(POSTGRES_ROOT)
        .filter((d) => /^[0-9]+$/.test(d) && existsSync(join(POSTGRES_ROOT, d, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) throw new Error(`no Postgres server binaries under ${POSTGRES_ROOT} (set PG_BIN_DIR)`);
  return join(POSTGRES_ROOT, majors[0]!, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * initdb and start a private cluster. Postgres refuses to run as root, so as root the cluster is owned and run by the
 * `postgres` user (`runuser -u postgres --`).
 *
 * @example
 * ```ts
 * const pg = await startPrivatePostgres();
 * after(() => pg.destroy());
 * const db = await createTestDatabase(pg.adminUrl);
 * await pg.stop(); // … the database is gone …
 * await pg.start();
 * ```
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'clawd402-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgRun = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);
  const port = await freePort();
  let running = false;
  let destroyed: Promise<void> | undefined;

  const start = async (): Promise<void> => {
    // Unix socket in the cluster's own directory; TCP on 127.0.0.1 only; no fsync (a test cluster, thrown away).
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
    await pgRun('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'server.log'), '-o', options]);
    running = true;
  };
  const stop = async (): Promise<void> => {
    if (!running) return;
    await pgRun('pg_ctl', ['stop', '-w', '-t', '60', '-m', 'fast', '-D', data]);
    running = false;
  };

  try {
    await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return Object.freeze({
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    destroy: () =>
      (destroyed ??= (async () => {
        await stop().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      })()),
  });
}
