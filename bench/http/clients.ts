import https from 'node:https';
import type { BenchChild } from './child';
import type { RegisteredClient, VaultReady } from './vault-runner';

export interface Answer {
  status: number;
  body: unknown;
}

/** One HTTPS request to a loopback listener, trusting only the run's own certificate. */
export function callLoopback(port: number, ca: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, method, path, ca, headers, minVersion: 'TLSv1.3', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON: kept as text for the error message.
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const basicAuth = (c: RegisteredClient) =>
  'Basic ' + Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64');

export const tokenRequestBody = (scope: string, purpose: string) =>
  new URLSearchParams({ grant_type: 'client_credentials', scope, purpose }).toString();

/** Registers a client the way the CLI does, inside the vault child. */
export function registerClient(vault: BenchChild<VaultReady>, name: string, scopes: string[], purposes: string[]): Promise<RegisteredClient> {
  return vault.call<RegisteredClient>('register', { name, kind: 'internal', scopes, purposes });
}

/** A fresh access token from the vault's own POST /oauth/token (client_secret_basic). */
export async function accessToken(vault: BenchChild<VaultReady>, ca: string, client: RegisteredClient, scope: string, purpose: string): Promise<string> {
  const answer = await callLoopback(
    vault.ready.port,
    ca,
    'POST',
    '/oauth/token',
    { authorization: basicAuth(client), 'content-type': 'application/x-www-form-urlencoded' },
    tokenRequestBody(scope, purpose),
  );
  const token = (answer.body as { access_token?: unknown }).access_token;
  if (answer.status !== 200 || typeof token !== 'string') throw new Error(`token request failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return token;
}
