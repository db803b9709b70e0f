import path from 'node:path';
import { SETTINGS, type Setting, type SettingName } from './settings';

export type Mode = 'development' | 'production';

export interface Config {
  mode: Mode;
  dataDir: string;
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    maxHeaderBytes: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    shutdownGraceMs: number;
  };
  tls: {
    /** Undefined in development until the generated certificate is filled in. */
    certFile?: string;
    keyFile?: string;
    minVersion: 'TLSv1.2' | 'TLSv1.3';
    clientCaFile?: string;
  };
  database: {
    /** Undefined in development: the embedded PostgreSQL provides it. */
    url?: string;
    poolMax: number;
    statementTimeoutMs: number;
    applicationName: string;
    sslCaFile?: string;
    migrateOnStart: boolean;
    embeddedPort: number;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}

/** Raised when the environment does not describe a vault that may start; its message is one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;
const KNOWN = new Set<string>(SETTINGS.map((s) => s.env));

/**
 * Reads and validates the whole configuration once. This is the only place in the vault that
 * looks at the environment; everything else receives the typed result.
 */
export function loadConfig(env: Env = process.env): Config {
  rejectUnknownVaultVariables(env);
  const mode = readSetting(env, 'PDVAULT_MODE', 'development') as Mode;
  const read = (name: SettingName) => readSetting(env, name, mode);

  const config: Config = {
    mode,
    dataDir: path.resolve(read('PDVAULT_DATA_DIR') as string),
    http: {
      host: read('PDVAULT_HOST') as string,
      port: read('PDVAULT_PORT') as number,
      bodyLimitBytes: read('PDVAULT_BODY_LIMIT_BYTES') as number,
      maxHeaderBytes: read('PDVAULT_MAX_HEADER_BYTES') as number,
      headersTimeoutMs: read('PDVAULT_HEADERS_TIMEOUT_MS') as number,
      requestTimeoutMs: read('PDVAULT_REQUEST_TIMEOUT_MS') as number,
      keepAliveTimeoutMs: read('PDVAULT_KEEP_ALIVE_TIMEOUT_MS') as number,
      shutdownGraceMs: read('PDVAULT_SHUTDOWN_GRACE_MS') as number,
    },
    tls: {
      certFile: read('PDVAULT_TLS_CERT_FILE') as string | undefined,
      keyFile: read('PDVAULT_TLS_KEY_FILE') as string | undefined,
      minVersion: read('PDVAULT_TLS_MIN_VERSION') as 'TLSv1.2' | 'TLSv1.3',
      clientCaFile: read('PDVAULT_TLS_CLIENT_CA_FILE') as string | undefined,
    },
    database: {
      url: read('DATABASE_URL') as string | undefined,
      poolMax: read('PDVAULT_DB_POOL_MAX') as number,
      statementTimeoutMs: read('PDVAULT_DB_STATEMENT_TIMEOUT_MS') as number,
      applicationName: read('PDVAULT_DB_APPLICATION_NAME') as string,
      sslCaFile: read('PDVAULT_DB_SSL_CA_FILE') as string | undefined,
      migrateOnStart: read('PDVAULT_MIGRATE_ON_START') as boolean,
      embeddedPort: read('PDVAULT_EMBEDDED_PG_PORT') as number,
    },
    log: { level: read('PDVAULT_LOG_LEVEL') as Config['log']['level'] },
  };
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    throw new ConfigError('PDVAULT_HEADERS_TIMEOUT_MS must not exceed PDVAULT_REQUEST_TIMEOUT_MS');
  }
  return config;
}

function rejectUnknownVaultVariables(env: Env): void {
  const unknown = Object.keys(env).filter((name) => name.startsWith('PDVAULT_') && !KNOWN.has(name));
  if (unknown.length > 0) {
    throw new ConfigError(`unknown setting ${unknown.sort().join(', ')} (a typo? see the README's configuration table)`);
  }
}

function readSetting(env: Env, name: SettingName, mode: Mode): unknown {
  const setting: Setting = SETTINGS.find((s) => s.env === name)!;
  const given = env[name];
  const raw = given === undefined || given === '' ? defaultFor(setting, mode) : given;
  if (raw === undefined) {
    if (mode === 'production' && setting.requiredInProduction) {
      throw new ConfigError(`${name} is required in production mode`);
    }
    return undefined;
  }
  const parsed = setting.schema.safeParse(raw);
  if (!parsed.success) {
    // The value itself is not echoed: a misplaced secret must not reach the terminal or a log.
    const reason = parsed.error.issues[0]?.message ?? 'invalid value';
    throw new ConfigError(`${name} is invalid: ${reason}`);
  }
  return parsed.data;
}

function defaultFor(setting: Setting, mode: Mode): string | undefined {
  return mode === 'production' && setting.prodDefault !== undefined ? setting.prodDefault : setting.devDefault;
}
