import { z } from 'zod';

/**
 * Every setting the vault reads, declared once: its environment variable, its schema, its
 * default and why. The README's configuration table is generated from this list
 * (`npm run config:doc`), so the documentation cannot drift from the code.
 *
 * A setting that holds a secret has no default, ever.
 */
export interface Setting {
  env: string;
  schema: z.ZodType;
  /** Default for development mode; `undefined` means "no default". */
  devDefault?: string;
  /** Default for production mode when it differs from development's. */
  prodDefault?: string;
  requiredInProduction?: boolean;
  doc: string;
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
const flag = z.stringbool();
const nonEmpty = z.string().trim().min(1);

export const SETTINGS = [
  {
    env: 'PDVAULT_MODE',
    schema: z.enum(['development', 'production']),
    devDefault: 'development',
    doc: '`development` embeds PostgreSQL, generates a self-signed certificate and a local keyring in the data folder. `production` needs every external setting given explicitly and refuses to start without it.',
  },
  {
    env: 'PDVAULT_DATA_DIR',
    schema: nonEmpty,
    devDefault: './.pdvault',
    doc: 'Folder for development state: the embedded PostgreSQL cluster, the generated certificate. Created traverse-only (0711); secrets inside are 0600.',
  },
  {
    env: 'PDVAULT_HOST',
    schema: nonEmpty,
    devDefault: '127.0.0.1',
    prodDefault: '0.0.0.0',
    doc: 'Address the HTTPS listener binds. Loopback in development so a laptop vault is not reachable from the network.',
  },
  {
    env: 'PDVAULT_PORT',
    schema: port,
    devDefault: '8443',
    doc: 'TCP port of the HTTPS listener (the only listener; there is no plaintext port). 0 picks a free port.',
  },
  {
    env: 'PDVAULT_TLS_CERT_FILE',
    schema: nonEmpty,
    requiredInProduction: true,
    doc: 'PEM certificate chain served to clients. Development generates `<data dir>/tls/cert.pem` when unset.',
  },
  {
    env: 'PDVAULT_TLS_KEY_FILE',
    schema: nonEmpty,
    requiredInProduction: true,
    doc: 'PEM private key for the certificate. Development generates `<data dir>/tls/key.pem` (mode 0600) when unset.',
  },
  {
    env: 'PDVAULT_TLS_MIN_VERSION',
    schema: z.enum(['TLSv1.2', 'TLSv1.3']),
    devDefault: 'TLSv1.2',
    doc: 'Lowest TLS version accepted. `TLSv1.3` turns TLS 1.2 off entirely; TLS 1.3 is always preferred.',
  },
  {
    env: 'PDVAULT_TLS_CLIENT_CA_FILE',
    schema: nonEmpty,
    doc: 'When set, mutual TLS: every client must present a certificate issued by a CA in this PEM file, or the handshake fails.',
  },
  {
    env: 'PDVAULT_BODY_LIMIT_BYTES',
    schema: positiveInt(10 * 1024 * 1024),
    devDefault: '65536',
    doc: 'Largest request body accepted; larger bodies get 413 before they are parsed.',
  },
  {
    env: 'PDVAULT_MAX_HEADER_BYTES',
    schema: positiveInt(64 * 1024),
    devDefault: '16384',
    doc: 'Largest total size of request headers; larger requests get 431 from the HTTP parser.',
  },
  {
    env: 'PDVAULT_HEADERS_TIMEOUT_MS',
    schema: positiveInt(120_000),
    devDefault: '10000',
    doc: 'Time a client has to send all request headers (slowloris bound).',
  },
  {
    env: 'PDVAULT_REQUEST_TIMEOUT_MS',
    schema: positiveInt(300_000),
    devDefault: '30000',
    doc: 'Time a client has to send a whole request.',
  },
  {
    env: 'PDVAULT_KEEP_ALIVE_TIMEOUT_MS',
    schema: positiveInt(120_000),
    devDefault: '5000',
    doc: 'How long an idle keep-alive connection stays open.',
  },
  {
    env: 'PDVAULT_SHUTDOWN_GRACE_MS',
    schema: positiveInt(120_000),
    devDefault: '10000',
    doc: 'On SIGTERM, how long in-flight requests may take before their connections are closed.',
  },
  {
    env: 'DATABASE_URL',
    schema: nonEmpty,
    requiredInProduction: true,
    doc: 'PostgreSQL (13 or later) connection string. For TLS to the database add `?sslmode=verify-full&sslrootcert=/path/ca.pem`. Development starts an embedded PostgreSQL when unset.',
  },
  {
    env: 'PDVAULT_DB_POOL_MAX',
    schema: positiveInt(200),
    devDefault: '10',
    doc: 'Most connections one instance holds open.',
  },
  {
    env: 'PDVAULT_DB_STATEMENT_TIMEOUT_MS',
    schema: positiveInt(600_000),
    devDefault: '5000',
    doc: 'PostgreSQL `statement_timeout` for the vault\'s sessions: a stuck query fails instead of holding a connection.',
  },
  {
    env: 'PDVAULT_DB_APPLICATION_NAME',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/),
    devDefault: 'pdvault',
    doc: 'PostgreSQL `application_name`, shown in `pg_stat_activity`.',
  },
  {
    env: 'PDVAULT_DB_SSL_CA_FILE',
    schema: nonEmpty,
    doc: 'PEM CA bundle for TLS to PostgreSQL; when set the server certificate and host name are verified (verify-full).',
  },
  {
    env: 'PDVAULT_MIGRATE_ON_START',
    schema: flag,
    devDefault: 'true',
    doc: 'Apply pending migrations at start. Set `false` where migrations run as a separate step (`npm run migrate`).',
  },
  {
    env: 'PDVAULT_EMBEDDED_PG_PORT',
    schema: port,
    devDefault: '54329',
    doc: 'Development only: port of the embedded PostgreSQL (listens on loopback).',
  },
  {
    env: 'PDVAULT_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    devDefault: 'info',
    doc: 'Least severe log level written (JSON lines on standard output).',
  },
] as const satisfies readonly Setting[];

export type SettingName = (typeof SETTINGS)[number]['env'];
