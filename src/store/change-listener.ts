import { Client, type ClientConfig } from 'pg';
import type { Database } from './database';

export interface ChangeHandlers {
  /** A notification's payload, in the order PostgreSQL delivered them. */
  changed(payload: string): void;
  /**
   * `true` once LISTEN is in place (again); `false` as soon as the session is lost. While it is
   * false, notifications may be missed, so whatever relies on them must not trust its cache.
   */
  listening(up: boolean): void;
}

export interface ChangeListenerOptions {
  /** First reconnection delay; doubled after each failure up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  onError?(error: unknown): void;
}

/**
 * One dedicated session (outside the pool) that LISTENs on a channel and reconnects when it is
 * lost. Built from the pool's own connection settings, so it reaches the same server the same way.
 */
export class ChangeListener {
  private client?: Client;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  private delayMs: number;

  constructor(
    private readonly db: Database,
    private readonly channel: string,
    private readonly handlers: ChangeHandlers,
    private readonly options: ChangeListenerOptions = {},
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
    this.delayMs = options.retryMs ?? 250;
  }

  /** Resolves once listening, or after the first failed attempt (it keeps retrying meanwhile). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.handlers.listening(false);
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client(listenerConfig(this.db));
    let lost = false;
    const onLost = (error?: unknown) => {
      if (lost) return;
      lost = true;
      if (error) this.options.onError?.(error);
      this.handlers.listening(false);
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.handlers.changed(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`listen ${this.channel}`);
    } catch (error) {
      onLost(error);
      return;
    }
    if (this.stopped || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delayMs = this.options.retryMs ?? 250;
    this.handlers.listening(true);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(delay * 2, this.options.maxRetryMs ?? 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}

function listenerConfig(db: Database): ClientConfig {
  const connection = (db.client as { config: { connection: ClientConfig } }).config.connection;
  // The session sits idle by design; TCP keep-alive is what notices a peer that vanished.
  return { ...connection, application_name: `${connection.application_name ?? 'pdvault'}-listener`.slice(0, 63), keepAlive: true };
}
