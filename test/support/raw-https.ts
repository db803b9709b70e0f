import tls from 'node:tls';
import type { TestVault } from './test-vault';

export interface RawAnswer {
  statusLine: string;
  headers: Record<string, string>;
  body: string;
}

/** Sends `request` as raw bytes over TLS and reads the answer until the vault closes the connection. */
export async function exchange(vault: TestVault, request: string): Promise<RawAnswer> {
  return parseAnswer(await exchangeText(vault, request));
}

/** Everything the vault sends back for `request`, as text, until it closes the connection. */
export function exchangeText(vault: TestVault, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: vault.vault.port, ca: vault.ca }, () => socket.write(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** The last response in `text` (after any `100 Continue`): its status line, headers and body. */
export function parseAnswer(text: string): RawAnswer {
  const final = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
  const [head = '', ...rest] = final.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { statusLine, headers, body: rest.join('\r\n\r\n') };
}
