import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { createSelfSigned } from '../../src/cli/development-certificate';
import { startTestVault, type TestVault } from '../support/test-vault';
import { freePort } from '../support/ports';

interface Handshake {
  protocol?: string | null;
  cipher?: string;
  error?: string;
}

function handshake(port: number, ca: string, options: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port, ca, ...options }, () => {
      const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.on('error', (error: Error & { code?: string }) => resolve({ error: error.code ?? error.message }));
  });
}

describe('TLS on the only listener', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault();
  });
  afterAll(() => vault.stop());

  it('negotiates TLS 1.3 when the client offers it', async () => {
    expect(await handshake(vault.vault.port, vault.ca)).toMatchObject({ protocol: 'TLSv1.3' });
  });

  it('accepts TLS 1.2 with a forward-secret AEAD suite', async () => {
    const result = await handshake(vault.vault.port, vault.ca, { maxVersion: 'TLSv1.2' });
    expect(result).toEqual({ protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  });

  it('refuses TLS 1.1 with a protocol-version alert from the server', async () => {
    // SECLEVEL=0 lets this client offer TLS 1.1 at all, so the refusal is the server's.
    const result = await handshake(vault.vault.port, vault.ca, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(result.error).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it.each(['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'AES128-GCM-SHA256'])(
    'refuses the TLS 1.2 suite %s (CBC or not forward-secret)',
    async (cipher) => {
      const result = await handshake(vault.vault.port, vault.ca, { maxVersion: 'TLSv1.2', ciphers: `${cipher}@SECLEVEL=0` });
      expect(result.error).toBe('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
    },
  );

  it.each([
    [['http/1.1'], 'http/1.1'],
    [['http/1.0'], 'http/1.0'],
    [['h2', 'http/1.1'], 'http/1.1'],
  ])('agrees on the application protocol %p offers: %s (the HTTP versions it answers)', async (offered, agreed) => {
    const socketProtocol = await new Promise<string | false | null>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: vault.vault.port, ca: vault.ca, ALPNProtocols: offered }, () => {
        resolve(socket.alpnProtocol ?? null);
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(socketProtocol).toBe(agreed);
  });

  it('answers an HTTP/1.0 request on a connection that agreed on http/1.0', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      // Written, not ended: an HTTP/1.0 answer closes the connection itself.
      const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: vault.vault.port, ca: vault.ca, ALPNProtocols: ['http/1.0'] }, () => socket.write('GET /healthz HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += String(chunk)));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('gives a plaintext HTTP request no HTTP answer', async () => {
    const answer = await new Promise<string>((resolve) => {
      let received = '';
      const socket = net.connect(vault.vault.port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      socket.on('data', (chunk) => (received += chunk.toString('latin1')));
      socket.on('close', () => resolve(received));
      socket.on('error', () => resolve(received));
    });
    expect(answer.startsWith('HTTP/')).toBe(false);
    expect(answer).not.toMatch(/Location:/i);
  });
});

describe('TLS 1.3 only', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault({ PDVAULT_TLS_MIN_VERSION: 'TLSv1.3' });
  });
  afterAll(() => vault.stop());

  it('refuses a TLS 1.2 client', async () => {
    const result = await handshake(vault.vault.port, vault.ca, { maxVersion: 'TLSv1.2' });
    expect(result.error).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });
});

describe('mutual TLS', () => {
  let vault: TestVault;
  let client: { certPem: string; keyPem: string };
  let dir: string;
  beforeAll(async () => {
    client = await createSelfSigned([], [], 'clientAuth');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-mtls-'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), client.certPem);
    vault = await startTestVault({ PDVAULT_TLS_CLIENT_CA_FILE: path.join(dir, 'ca.pem') });
  });
  afterAll(async () => {
    await vault.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a client without a certificate', async () => {
    const result = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: vault.vault.port, ca: vault.ca }, () => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      });
      socket.on('data', (d) => resolve('answered: ' + d.toString().split('\r\n')[0]));
      socket.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
      socket.on('close', () => resolve('closed'));
    });
    expect(result).toMatch(/ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|closed|ECONNRESET/);
    expect(result).not.toMatch(/^answered/);
  });

  it('is seen alive by the container health check, which holds no client certificate', async () => {
    const env = { PATH: process.env.PATH ?? '', PDVAULT_MODE: 'production', PDVAULT_HOST: '127.0.0.1', PDVAULT_PORT: String(vault.vault.port), DATABASE_URL: 'postgres://unused/unused', PDVAULT_TLS_CERT_FILE: 'unused', PDVAULT_TLS_KEY_FILE: 'unused', PDVAULT_TLS_CLIENT_CA_FILE: path.join(dir, 'ca.pem') };
    const check = (port: number) =>
      new Promise<number | null>((resolve) => {
        execFile(process.execPath, ['-r', '@swc-node/register', 'src/cli/healthcheck.ts'], { cwd: path.resolve(__dirname, '../..'), env: { ...env, PDVAULT_PORT: String(port) } }, (error) =>
          resolve(error ? (typeof error.code === 'number' ? error.code : null) : 0),
        );
      });
    expect(await check(vault.vault.port)).toBe(0);
    // Nothing listening: not alive.
    expect(await check(await freePort())).toBe(1);
  });

  it('serves a client presenting a certificate from the configured CA', async () => {
    const result = await handshake(vault.vault.port, vault.ca, { cert: client.certPem, key: client.keyPem });
    expect(result.protocol).toBe('TLSv1.3');
  });
});

describe('a listen address that cannot be used', () => {
  it('refuses to start with a line that says what to change', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      await expect(startTestVault({ PDVAULT_PORT: String(port) })).rejects.toThrow(`127.0.0.1:${port} is already in use (another vault?); set PDVAULT_PORT to listen on another port`);
      await expect(startTestVault({ PDVAULT_HOST: '192.0.2.1' })).rejects.toThrow('192.0.2.1 is not an address of this machine; set PDVAULT_HOST to one that is');
    } finally {
      holder.close();
    }
  });
});
