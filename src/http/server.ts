import { STATUS_CODES, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Express } from 'express';
import type { Config } from '../config/config';
import type { Logger } from '../observability/logger';
import { expressMessageClasses } from './express-messages';
import { securityHeaders } from './middleware/security-headers';
import { PROBLEM_TYPE_PREFIX } from './problem';

export interface RunningServer {
  server: https.Server;
  port: number;
  url: string;
  /** Stops accepting, lets in-flight requests finish within the grace period, then closes. */
  close(): Promise<void>;
}

/** The vault's only listener: HTTPS (`tls`: tlsServerOptions, read before the vault starts), with timeouts and size caps a vault needs. */
export async function listenHttps(app: Express, config: Config, logger: Logger, tls: TlsOptions & SecureContextOptions): Promise<RunningServer> {
  const { http } = config;
  // How often Node checks the header and request timeouts of open connections.
  const timeoutCheckMs = Math.min(1000, http.headersTimeoutMs);
  const server = https.createServer(
    {
      ...tls,
      maxHeaderSize: http.maxHeaderBytes,
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      connectionsCheckingInterval: timeoutCheckMs,
      // Node would answer a missing Host with a bare 400 of its own; input hygiene answers it as a problem.
      requireHostHeader: false,
      ...expressMessageClasses(app),
    },
    app,
  );
  // Every header field reaches the app, which refuses a request with too many (middleware/framing.ts):
  // past this count Node would drop the rest without a word, and the duplicate checks with them.
  server.maxHeadersCount = 0;
  // Node would answer these itself: `100 Continue` to any declared size, a bare 417 to any other
  // expectation. The app answers both (the body parser invites a body it means to read).
  server.on('checkContinue', app);
  server.on('checkExpectation', app);
  // The vault is no proxy; without a listener Node would drop the connection without an answer.
  server.on('connect', (_req, socket: Socket) => answerRaw(socket, NOT_A_PROXY));
  // No cap on requests per connection: past Node's cap every further request on the socket is
  // answered 503, and a client that keeps its connection despite `Connection: close` (a load
  // generator, some pools) sees an outage. Idle connections still end at the keep-alive timeout.
  // Bound idle sockets that never finish a handshake or a request. Past the request timeout (and
  // the interval its check runs at), so that a request whose body stops short is answered 408 by
  // that check rather than cut off in silence by this one.
  server.setTimeout(http.requestTimeoutMs + 2 * timeoutCheckMs);
  server.on('tlsClientError', (error: Error & { code?: string }) => {
    logger.debug({ code: error.code }, 'TLS handshake refused');
  });
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    logger.debug({ code: error.code }, 'request refused by the HTTP parser');
    answerClientError(error, socket);
  });

  await new Promise<void>((resolve, reject) => {
    const refused = (error: Error & { code?: string }) => reject(listenError(error, http.host, http.port));
    server.once('error', refused);
    server.listen(http.port, http.host, () => {
      server.off('error', refused);
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

/** The listener's refusal in words that say what to change. */
function listenError(error: Error & { code?: string }, host: string, port: number): Error {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (error.code === 'EADDRINUSE') return new Error(`${where} is already in use (another vault?); set PDVAULT_PORT to listen on another port`, { cause: error });
  if (error.code === 'EACCES') return new Error(`listening on ${where} needs privileges this process lacks; set PDVAULT_PORT to a port above 1023`, { cause: error });
  if (error.code === 'EADDRNOTAVAIL') return new Error(`${host} is not an address of this machine; set PDVAULT_HOST to one that is`, { cause: error });
  return error;
}

/** How often, while draining, connections an answer has left idle are closed. */
const DRAIN_SWEEP_MS = 250;

/**
 * Stops accepting connections and lets requests in flight finish, for at most `graceMs`. A
 * request that still arrives on an open connection is its last (`Connection: close`), and a
 * connection an answer leaves idle is closed within a moment: clients move to another instance
 * instead of keeping this one busy until their keep-alive runs out.
 */
function closeGracefully(server: https.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    // Requests with an Expect header arrive as these events instead of 'request'.
    for (const event of ['request', 'checkContinue', 'checkExpectation']) server.prependListener(event, (_req: unknown, res: ServerResponse) => res.setHeader('Connection', 'close'));
    const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    sweep.unref();
    force.unref();
    server.close(() => {
      clearTimeout(force);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

interface ClientProblem {
  status: number;
  code: string;
  title: string;
}

// What Node's parser refuses before there is a request, by error code; anything else it refuses is a 400.
const CLIENT_PROBLEMS = new Map<string | undefined, ClientProblem>([
  ['HPE_HEADER_OVERFLOW', { status: 431, code: 'headers_too_large', title: 'The request headers are larger than the vault accepts' }],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', { status: 413, code: 'body_too_large', title: 'The request body is larger than the vault accepts' }],
  ['ERR_HTTP_REQUEST_TIMEOUT', { status: 408, code: 'request_timeout', title: 'The request did not arrive in time' }],
]);
const MALFORMED: ClientProblem = { status: 400, code: 'bad_request', title: 'The request is not valid HTTP/1.1' };
const NOT_A_PROXY: ClientProblem = { status: 501, code: 'method_not_implemented', title: 'The vault is not a proxy: CONNECT is not served' };

/** The headers every answer carries (no-store, then helmet's), as lines of a response head. */
const FIXED_HEADER_LINES = (() => {
  const lines = ['Cache-Control: no-store'];
  // securityHeaders only calls setHeader on the response it is given.
  securityHeaders()({ setHeader: (name: string, value: string) => lines.push(`${name}: ${value}`) } as never);
  return lines.join('\r\n');
})();

const draining = new WeakSet<Socket>();
const responseOn = (socket: Socket) => (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;

/** Closes the socket once no response is left to send on it (Node hands it the next queued one as each finishes). */
function closeAfterAnswers(socket: Socket): void {
  const current = responseOn(socket);
  if (current && !current.writableFinished) current.once('close', () => closeAfterAnswers(socket));
  else socket.destroy();
}

/**
 * Node's parser refuses some requests before the app sees them (headers over the limit,
 * Transfer-Encoding with Content-Length, a request too slow to arrive) and would answer with a
 * bare status line. The vault answers with a problem like any other, without a request id (there
 * is no request) and with nothing of what was sent (`error.rawPacket` holds it), then closes.
 * Unless whole requests before those bytes are still being answered: then their answers go out.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const inFlight = responseOn(socket);
  // The refused bytes (or the stalled ones) came after whole requests, pipelined on the same
  // connection: those are running and may change data, so their own answers are the ones the
  // client must get. Nothing more is read (the refused bytes never become a request, a stalled
  // one never completes), and the connection closes once the last answer is out.
  if (inFlight && !inFlight.writableFinished && inFlight.req?.complete) {
    if (!draining.has(socket)) {
      draining.add(socket);
      socket.pause();
      closeAfterAnswers(socket);
    }
    return;
  }
  // The check Node's own handler makes: never write into a response that is already under way.
  if (error.code !== 'ECONNRESET' && !inFlight?.headersSent) answerRaw(socket, CLIENT_PROBLEMS.get(error.code) ?? MALFORMED);
  else socket.destroy();
}

/** Writes `problem` straight to the socket, as a response with no request id, and closes it. */
function answerRaw(socket: Socket, { status, code, title }: ClientProblem): void {
  if (socket.writable) {
    const body = JSON.stringify({ type: PROBLEM_TYPE_PREFIX + code, title, status, code });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n' +
        `${FIXED_HEADER_LINES}\r\n\r\n` +
        body,
    );
  }
  socket.destroy();
}
