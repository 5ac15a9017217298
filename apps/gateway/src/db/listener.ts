import pg from 'pg';
import type { Logger } from '../domain/logger.ts';

export interface PgListenerOptions {
  /** Postgres URL for the dedicated connection (never taken from the pool: it stays open for the process's life). */
  url: string;
  /** The NOTIFY channel (a constant identifier from a repository, never user input). */
  channel: string;
  /** Shown in pg_stat_activity, so operators (and tests) can find the connection. */
  applicationName: string;
  /** Called for every notification on the channel, with its payload. */
  onNotify: (payload: string | undefined) => void;
  /** Called each time LISTEN is (re-)established: notifications sent while it was down were lost, so catch up. */
  onListening?: () => void;
  log: Logger;
  /** Wait before reconnecting after a failure (default 1,000 ms). */
  reconnectMs?: number;
}

/**
 * LISTEN on one channel over a dedicated connection, reconnecting after any error until `close()`. A failure is
 * logged once per outage (the workers that use it still poll, so a lost LISTEN only makes them slower).
 */
export class PgListener {
  private client: pg.Client | null = null;
  private reconnect: NodeJS.Timeout | null = null;
  private closed = false;
  private warned = false;
  private connected = false;

  constructor(private readonly options: PgListenerOptions) {}

  /** True while the connection LISTENs. */
  get listening(): boolean {
    return this.connected;
  }

  /** Connect and LISTEN (in the background; failures reconnect). Idempotent. */
  open(): void {
    if (this.closed || this.client || this.reconnect) return;
    const { url, channel, applicationName, log } = this.options;
    const client = new pg.Client({
      connectionString: url,
      application_name: applicationName,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    this.client = client;
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.client === client) this.client = null;
      this.connected = false;
      if (this.closed) return;
      if (!this.warned)
        log.warn(
          { err: { message: error.message }, channel },
          'LISTEN connection failed; reconnecting (polling continues meanwhile)',
        );
      this.warned = true;
      this.reconnect = setTimeout(() => {
        this.reconnect = null;
        this.open();
      }, this.options.reconnectMs ?? 1_000);
      this.reconnect.unref();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel === channel) this.options.onNotify(message.payload);
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${channel}`))
      .then(() => {
        if (this.closed || failed) return;
        this.connected = true;
        this.warned = false;
        this.options.onListening?.();
      })
      .catch((error: Error) => fail(error));
  }

  /** Stop listening and close the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.connected = false;
    if (this.reconnect) clearTimeout(this.reconnect);
    this.reconnect = null;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => {});
    }
  }
}
