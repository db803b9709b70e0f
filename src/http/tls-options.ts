import fs from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Config } from '../config/config';

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

export function tlsServerOptions(tls: Config['tls'], handshakeTimeoutMs: number): TlsOptions & SecureContextOptions {
  if (!tls.certFile || !tls.keyFile) throw new Error('TLS certificate and key files must be set before listening');
  const mutual = tls.clientCaFile !== undefined;
  return {
    cert: fs.readFileSync(tls.certFile),
    key: fs.readFileSync(tls.keyFile),
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
    ...(mutual ? { ca: fs.readFileSync(tls.clientCaFile!), requestCert: true, rejectUnauthorized: true } : {}),
  };
}
