import https from 'node:https';
import { loadConfig } from '../config/config';

/**
 * The container HEALTHCHECK: GET /healthz on the vault's own port over TLS. The certificate
 * is issued for the service's public name, not for loopback, so only liveness is checked here,
 * not the certificate; the request never leaves the container.
 */
function main(): void {
  const config = loadConfig();
  const request = https.get(
    { host: '127.0.0.1', port: config.http.port, path: '/healthz', rejectUnauthorized: false, timeout: 4000 },
    (res) => {
      res.resume();
      process.exit(res.statusCode === 200 ? 0 : 1);
    },
  );
  request.on('timeout', () => request.destroy());
  request.on('error', () => process.exit(1));
}

main();
