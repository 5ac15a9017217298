import { createServer, type Server } from 'node:http';
import { buildApp } from './app.ts';
import { loadConfig, ConfigError, type GatewayConfig } from './config.ts';

/** Listen, and shut down gracefully on SIGINT/SIGTERM (in-flight requests finish; the tracker stops). */
export async function startServer(config: GatewayConfig): Promise<{ close: () => Promise<void>; url: string; redirectUrl: string | null }> {
  const app = await buildApp(config);
  const url = await app.listen({ host: config.host, port: config.port });
  const redirect = config.tls && config.httpRedirectPort !== null ? await startRedirect(config.host, config.httpRedirectPort, new URL(url).port) : null;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= Promise.all([app.close(), redirect && new Promise<void>((resolve) => redirect.server.close(() => resolve()))]).then(() => undefined));
  return { close, url, redirectUrl: redirect?.url ?? null };
}

/** Plain HTTP that sends every request to the same path over HTTPS (301), and serves nothing itself. */
async function startRedirect(host: string, port: number, httpsPort: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const hostname = (request.headers.host ?? host).replace(/:\d+$/, '').replace(/[^A-Za-z0-9.\-[\]:]/g, '');
    response.writeHead(301, { location: `https://${hostname}:${httpsPort}${request.url ?? '/'}`, 'cache-control': 'no-store', 'content-length': '0' });
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
      process.once(signal, () => void server.close().then(() => process.exit(0)));
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`clawd402: configuration error: ${error.message}`);
      process.exit(78);
    }
    throw error;
  }
}
