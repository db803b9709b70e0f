/**
 * Child process: the baseline. A bare Node https server (the vault's TLS options, TLS 1.3 only,
 * the same ECDSA P-256 certificate) answering one primary-key SELECT per request from a pg
 * Pool as large as the vault's. No framework, no auth, no crypto, no audit: what a request
 * costs before the vault does anything.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { tlsServerOptions } from '../../src/http/tls-options';
import { serveParent } from './child';

export interface BaselineStart {
  databaseUrl: string;
  certFile: string;
  keyFile: string;
  poolMax: number;
  keepAliveTimeoutMs: number;
}

export interface BaselineReady {
  port: number;
  pid: number;
}

let pool: Pool | undefined;
let server: https.Server | undefined;

function answer(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function readBody(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
  const one = /^\/subjects\/([A-Za-z0-9_-]{1,64})$/.exec(req.url ?? '');
  if (req.method === 'GET' && one) {
    const { rows } = await pool!.query<{ id: string; email: Buffer | null }>('select id, email from subjects where id = $1', [one[1]]);
    const row = rows[0];
    return row ? answer(res, 200, { id: row.id, email: row.email?.toString('base64') ?? null }) : answer(res, 404, { error: 'not_found' });
  }
  if (req.method === 'POST' && req.url === '/subjects/batch') {
    // The batch baseline: still one primary-key SELECT, over all the request's ids at once.
    const ids = (JSON.parse(await readBody(req)) as { subject_ids: string[] }).subject_ids;
    const { rows } = await pool!.query<{ id: string; email: Buffer | null }>('select id, email from subjects where id = any($1)', [ids]);
    return answer(res, 200, { results: rows.map((row) => ({ subject_id: row.id, email: row.email?.toString('base64') ?? null })) });
  }
  answer(res, 404, { error: 'not_found' });
}

serveParent<BaselineStart, BaselineReady>({
  async start(start) {
    pool = new Pool({ connectionString: start.databaseUrl, max: start.poolMax, application_name: 'pdvault-bench-baseline' });
    const tls = tlsServerOptions({ certFile: start.certFile, keyFile: start.keyFile, minVersion: 'TLSv1.3' }, 10_000);
    server = https.createServer({ ...tls, keepAliveTimeout: start.keepAliveTimeoutMs }, (req, res) => {
      handle(req, res).catch(() => answer(res, 500, { error: 'internal' }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, pid: process.pid };
  },
  calls: {},
  async stop() {
    const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server?.closeAllConnections();
    await closing;
    await pool?.end();
  },
});
