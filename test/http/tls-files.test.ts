import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSelfSigned } from '../../src/cli/development-certificate';
import { ConfigError } from '../../src/config/config';
import { tlsServerOptions } from '../../src/http/tls-options';

let dir: string;
const file = (name: string, content: string) => {
  const at = path.join(dir, name);
  fs.writeFileSync(at, content);
  return at;
};
let cert: string;
let key: string;
let otherKey: string;
let clientCa: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-tls-files-'));
  const server = await createSelfSigned(['localhost'], ['127.0.0.1']);
  const other = await createSelfSigned(['localhost'], ['127.0.0.1']);
  const client = await createSelfSigned([], [], 'clientAuth');
  cert = file('cert.pem', server.certPem);
  key = file('key.pem', server.keyPem);
  otherKey = file('other-key.pem', other.keyPem);
  clientCa = file('client-ca.pem', client.certPem);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const options = (tls: { certFile: string; keyFile: string; clientCaFile?: string }, now?: Date) => () => tlsServerOptions({ minVersion: 'TLSv1.2', ...tls }, 1000, now);

describe('the listener\'s TLS files, checked before the vault starts', () => {
  it('takes a certificate with its own key, and a client CA file of certificates', () => {
    expect(options({ certFile: cert, keyFile: key, clientCaFile: clientCa })()).toMatchObject({ requestCert: true, rejectUnauthorized: true });
  });

  it.each([
    ['a certificate file that does not exist', () => ({ certFile: path.join(dir, 'missing.pem'), keyFile: key }), /^PDVAULT_TLS_CERT_FILE cannot be read: .*missing\.pem \(ENOENT\)$/],
    ['a key file that is a folder', () => ({ certFile: cert, keyFile: dir }), /^PDVAULT_TLS_KEY_FILE cannot be read: .* \(EISDIR\)$/],
    ['a certificate file holding no certificate', () => ({ certFile: file('junk.pem', 'not a certificate'), keyFile: key }), /^PDVAULT_TLS_CERT_FILE holds no PEM certificate$/],
    ['a key file holding the certificate', () => ({ certFile: cert, keyFile: cert }), /^PDVAULT_TLS_KEY_FILE holds no unencrypted PEM private key$/],
    ['the key of another certificate', () => ({ certFile: cert, keyFile: otherKey }), /^PDVAULT_TLS_KEY_FILE is not the private key of the certificate in PDVAULT_TLS_CERT_FILE$/],
    ['a client CA file holding no certificate', () => ({ certFile: cert, keyFile: key, clientCaFile: file('ca-junk.pem', 'garbage') }), /^PDVAULT_TLS_CLIENT_CA_FILE holds no PEM certificate$/],
    ['a client CA file whose certificate is damaged', () => ({ certFile: cert, keyFile: key, clientCaFile: file('ca-damaged.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') }), /^PDVAULT_TLS_CLIENT_CA_FILE holds a certificate that cannot be read$/],
  ])('refuses %s in one line naming the setting', (_label, tls, message) => {
    expect(options(tls())).toThrow(ConfigError);
    expect(options(tls())).toThrow(message);
  });

  it('refuses a certificate that has expired, saying when', () => {
    expect(options({ certFile: cert, keyFile: key }, new Date(Date.now() + 20 * 365 * 24 * 3600 * 1000))).toThrow(/^PDVAULT_TLS_CERT_FILE holds a certificate that expired on \d{4}-\d\d-\d\dT/);
  });

  it('serves a certificate not valid yet, as one issued moments ago on a clock a little ahead is', () => {
    expect(options({ certFile: cert, keyFile: key }, new Date(Date.now() - 30 * 60 * 1000))()).toMatchObject({ cert: expect.any(Buffer) });
  });
});
