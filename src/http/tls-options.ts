import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { ConfigError, type Config } from '../config/config';

/**
 * Mozilla's "intermediate" configuration (version 5.7), spelled out: Node's default list still
 * offers CBC suites on TLS 1.2, and a vault should not depend on a runtime default. Every suite
 * is forward-secret AEAD. The DHE suites stay in the list as Mozilla gives it but are inert,
 * since no DH parameters are configured.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
];
export const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/**
 * The listener's TLS options, its files read and checked once, before anything else starts: a
 * file that cannot be read, holds no certificate or key, a key that is not the certificate's, a
 * certificate that has expired, or a client CA file with no certificate in it is refused with
 * one line naming the setting. Served, each would leave an instance that is up, and passes a
 * health check that only connects, while every client's handshake fails.
 */
export function tlsServerOptions(tls: Config['tls'], handshakeTimeoutMs: number, now = new Date()): TlsOptions & SecureContextOptions {
  if (!tls.certFile || !tls.keyFile) throw new Error('TLS certificate and key files must be set before listening');
  const cert = readSetting('PDVAULT_TLS_CERT_FILE', tls.certFile);
  const key = readSetting('PDVAULT_TLS_KEY_FILE', tls.keyFile);
  checkCertificateAndKey(cert, key, now);
  const clientCa = tls.clientCaFile === undefined ? undefined : readSetting('PDVAULT_TLS_CLIENT_CA_FILE', tls.clientCaFile);
  if (clientCa) checkClientCa(clientCa);
  return {
    cert,
    key,
    minVersion: tls.minVersion,
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':'),
    ecdhCurve: 'X25519:prime256v1:secp384r1',
    // Mozilla intermediate lets the client pick among equally strong suites.
    honorCipherOrder: false,
    handshakeTimeout: handshakeTimeoutMs,
    // The vault answers HTTP/1.1 and HTTP/1.0. Node's https server offers only http/1.1 by
    // default, and a client that asks for http/1.0 alone (curl --http1.0) would fail its handshake.
    ALPNProtocols: ['http/1.1', 'http/1.0'],
    ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

function readSetting(setting: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${setting} cannot be read: ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

function checkCertificateAndKey(certPem: Buffer, keyPem: Buffer, now: Date): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    throw new ConfigError('PDVAULT_TLS_CERT_FILE holds no PEM certificate');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new ConfigError('PDVAULT_TLS_KEY_FILE holds no unencrypted PEM private key');
  }
  if (!certificate.checkPrivateKey(key)) throw new ConfigError('PDVAULT_TLS_KEY_FILE is not the private key of the certificate in PDVAULT_TLS_CERT_FILE');
  // Expired, it fails every handshake. (One not valid yet is served: a certificate issued moments
  // ago on a clock a little ahead would otherwise stop the vault from starting at all.)
  const validTo = new Date(certificate.validTo);
  if (validTo <= now) throw new ConfigError(`PDVAULT_TLS_CERT_FILE holds a certificate that expired on ${validTo.toISOString()}`);
}

function checkClientCa(pem: Buffer): void {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError('PDVAULT_TLS_CLIENT_CA_FILE holds no PEM certificate');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError('PDVAULT_TLS_CLIENT_CA_FILE holds a certificate that cannot be read');
    }
  }
}
