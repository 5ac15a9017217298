import { buildApp } from './app.ts';
import { loadConfig, ConfigError, type GatewayConfig } from './config.ts';

/** Listen, and shut down gracefully on SIGINT/SIGTERM (in-flight requests finish; the tracker stops). */
export async function startServer(config: GatewayConfig): Promise<{ close: () => Promise<void>; url: string }> {
  const app = await buildApp(config);
  const url = await app.listen({ host: config.host, port: config.port });
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= app.close());
  return { close, url };
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
