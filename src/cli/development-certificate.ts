import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

const VALIDITY_DAYS = 365;
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

/**
 * Development only: a self-signed ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1,
 * created in `<dir>` on first start and reused until a week before it expires.
 */
export async function ensureDevelopmentCertificate(dir: string): Promise<CertificateFiles & { created: boolean }> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (isUsable(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile, created: false };

  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { certPem, keyPem } = await createSelfSigned(['localhost'], ['127.0.0.1', '::1']);
  fs.writeFileSync(keyFile, keyPem, { mode: 0o600 });
  fs.writeFileSync(certFile, certPem, { mode: 0o644 });
  return { certFile, keyFile, created: true };
}

export async function createSelfSigned(
  dnsNames: string[],
  ips: string[],
  usage: 'serverAuth' | 'clientAuth' = 'serverAuth',
): Promise<{ certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto.getRandomValues(new Uint8Array(16)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '7f'),
    name: usage === 'serverAuth' ? 'CN=pdvault development' : 'CN=pdvault client',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + VALIDITY_DAYS * 24 * 3600 * 1000),
    signingAlgorithm: algorithm,
    keys: keys as CryptoKeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage[usage]]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', (keys as CryptoKeyPair).privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  return { certPem: certificate.toString('pem'), keyPem };
}

function isUsable(certFile: string): boolean {
  if (!fs.existsSync(certFile)) return false;
  try {
    const cert = new x509.X509Certificate(fs.readFileSync(certFile, 'utf8'));
    return cert.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}
