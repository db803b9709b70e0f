import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Config } from '../config/config';
import type { Logger } from '../observability/logger';
import { expressMessageClasses } from './express-messages';
import { tlsServerOptions } from './tls-options';

export interface RunningServer {
  server: https.Server;
  port: number;
  url: string;
  /** Stops accepting, lets in-flight requests finish within the grace period, then closes. */
  close(): Promise<void>;
}

/** The vault's only listener: HTTPS, with timeouts and size caps a vault needs. */
export async function listenHttps(app: Express, config: Config, logger: Logger): Promise<RunningServer> {
  const { http } = config;
  const server = https.createServer(
    {
      ...tlsServerOptions(config.tls, http.headersTimeoutMs),
      maxHeaderSize: http.maxHeaderBytes,
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, http.headersTimeoutMs),
      ...expressMessageClasses(app),
    },
    app,
  );
  server.maxHeadersCount = 100;
  // No cap on requests per connection: past Node's cap every further request on the socket is
  // answered 503, and a client that keeps its connection despite `Connection: close` (a load
  // generator, some pools) sees an outage. Idle connections still end at the keep-alive timeout.
  // Bound idle sockets that never finish a handshake or a request.
  server.setTimeout(http.requestTimeoutMs);
  server.on('tlsClientError', (error: Error & { code?: string }) => {
    logger.debug({ code: error.code }, 'TLS handshake refused');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(http.port, http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = http.host === '0.0.0.0' || http.host === '::' ? 'localhost' : http.host;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    server,
    port,
    url: `https://${urlHost === '127.0.0.1' ? 'localhost' : urlHost}:${port}`,
    close: () => closeGracefully(server, http.shutdownGraceMs),
  };
}

function closeGracefully(server: https.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
