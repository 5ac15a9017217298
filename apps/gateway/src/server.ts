import { createServer, type Server } from 'node:http';
import { buildApp } from './app.ts';
import { pino } from 'pino';
import { armFaultPoint, logEvent } from '@clawd402/protocol';
import { loadConfig, ConfigError, type GatewayConfig } from './config.ts';
import { applyHeapGrowth } from './lib/heap-growth.ts';

/**
 * How long a shutdown may take. A clean one takes far less: new connections are refused at once, waiting long-polls
 * answer at once with the intent's current state, in-flight intents finish (or fail closed), the workers stop. Past
 * the deadline the process exits anyway, well inside an orchestrator's usual 30 s grace period.
 */
export const SHUTDOWN_DEADLINE_MS = 5_000;

export interface RunningServer {
  url: string;
  redirectUrl: string | null;
  /** Close gracefully (idempotent): stop accepting, answer long-polls, finish in-flight work, stop the workers. */
  close: () => Promise<void>;
  /** `close()` bounded by `deadlineMs`: 'clean' when it finished in time, 'deadline' when it was cut short. */
  shutdown: (deadlineMs?: number) => Promise<'clean' | 'deadline'>;
}

/** Listen, and shut down gracefully on SIGINT/SIGTERM (see `shutdown`). */
export async function startServer(config: GatewayConfig): Promise<RunningServer> {
  armFaultPoint(config.faultPoint); // inert unless a crash test set FAULT_POINT (NODE_ENV=test only)
  applyHeapGrowth(config.heapGrowthPercent);
  const app = await buildApp(config);
  const url = await app.listen({ host: config.host, port: config.port });
  const redirect =
    config.tls && config.httpRedirectPort !== null
      ? await startRedirect(config.host, config.httpRedirectPort, new URL(url).port)
      : null;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= Promise.all([
      app.close(),
      redirect && new Promise<void>((resolve) => redirect.server.close(() => resolve())),
    ]).then(() => undefined));
  const shutdown = async (deadlineMs = SHUTDOWN_DEADLINE_MS): Promise<'clean' | 'deadline'> => {
    const started = Date.now();
    app.log.info('shutting down');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)));
    const outcome = await Promise.race([close().then(() => 'clean' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      app.server.closeAllConnections();
      app.log.error(
        { deadlineMs },
        'shutdown deadline passed with work unfinished; exiting anyway (the tracker fails closed what was left approved)',
      );
    } else {
      app.log.info({ ms: Date.now() - started }, 'shut down cleanly');
    }
    return outcome;
  };
  return { close, shutdown, url, redirectUrl: redirect?.url ?? null };
}

/** Plain HTTP that sends every request to the same path over HTTPS (301), and serves nothing itself. */
async function startRedirect(host: string, port: number, httpsPort: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const hostname = (request.headers.host ?? host).replace(/:\d+$/, '').replace(/[^A-Za-z0-9.\-[\]:]/g, '');
    response.writeHead(301, {
      location: `https://${hostname}:${httpsPort}${request.url ?? '/'}`,
      'cache-control': 'no-store',
      'content-length': '0',
    });
    response.end();
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as { port: number };
  return { server, url: `http://${host}:${address.port}` };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const config = loadConfig();
    const server = await startServer(config);
    // One machine-readable line for supervisors and tests (the port may have been chosen by the OS).
    process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.url })}\n`);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        void server.shutdown().then(
          (outcome) => process.exit(outcome === 'clean' ? 0 : 1),
          () => process.exit(1),
        );
      });
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      // One JSON line for log shippers (docs/logging.md), then the sentence for a person at a terminal.
      const log = pino({ timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
      logEvent(log, 'system.startup_refused', { reason: error.message });
      console.error(`clawd402: configuration error: ${error.message}`);
      process.exit(78);
    }
    throw error;
  }
}
