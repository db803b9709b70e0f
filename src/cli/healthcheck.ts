import https from 'node:https';
import { loadConfig } from '../config/config';

/**
 * The container HEALTHCHECK: GET /healthz on the vault's own port over TLS. The certificate
 * is issued for the service's public name, not for loopback, so only liveness is checked here,
 * not the certificate; the request never leaves the container. It goes to the address the
 * vault listens on (loopback when it listens on all of them). With mutual TLS the vault
 * refuses any connection without a client certificate, which this check does not hold: that
 * refusal, made by the running process, counts as alive.
 */
function main(): void {
  const config = loadConfig();
  const { host, port } = config.http;
  const mutual = config.tls.clientCaFile !== undefined;
  const request = https.get(
    { host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port, path: '/healthz', rejectUnauthorized: false, timeout: 4000 },
    (res) => {
      res.resume();
      process.exit(res.statusCode === 200 ? 0 : 1);
    },
  );
  request.on('timeout', () => request.destroy());
  request.on('error', (error: Error & { code?: string }) => process.exit(mutual && refusedForCertificate(error) ? 0 : 1));
}

/** The TLS alert a server sends when it requires a client certificate (TLS 1.3: certificate_required; 1.2: handshake_failure). */
const refusedForCertificate = (error: Error & { code?: string }) =>
  error.code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || error.code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE';

main();
