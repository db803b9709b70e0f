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
    /** Empty: X-Forwarded-For is ignored. */
    trustedProxies: string[];
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
  keys: KeySettings;
  rotation: RotationSettings;
  identity: IdentitySettings;
  policy: PolicySettings;
  audit: AuditSettings;
}

/** The decision point's settings (DESIGN.md, "Purposes"). */
export interface PolicySettings {
  cacheMs: number;
  /** Defaults of a subject's preferences that the subject never set. */
  defaultSubscribed: boolean;
  defaultShareWithPartners: boolean;
  approvalMaxLifetimeHours: number;
}

/** The audit trail's settings (DESIGN.md, "Audit"). */
export interface AuditSettings {
  commitIntervalMs: number;
  maxBatch: number;
  queueLimit: number;
  checkpointIntervalSeconds: number;
}

export interface IdentitySettings {
  /** Undefined until the listener is up when not configured: the vault then uses its own URL. */
  issuer?: string;
  audience: string;
  tokenTtlSeconds: number;
  tokenAlgorithm: 'ES256' | 'EdDSA';
  clockSkewSeconds: number;
  tokenCacheEntries: number;
  standingCacheMs: number;
  secretRotationOverlapSeconds: number;
  authFailuresPerClient: number;
  authFailuresPerAddress: number;
  authFailureWindowSeconds: number;
  argon2Concurrency: number;
  argon2QueueLimit: number;
}

/** The key hierarchy's settings (DESIGN.md, "Keys"); checked for consistency when the hierarchy is built. */
export interface KeySettings {
  provider: 'aws' | 'local';
  kms: {
    keyId?: string;
    region?: string;
    endpoint?: string;
    deadlineMs: number;
    maxAttempts: number;
    /** How long /readyz trusts the provider's last good answer before asking it again. */
    readinessCheckMs: number;
  };
  allowLocalKeyringInProduction: boolean;
  kekCacheMaxAgeMs: number;
  kekCacheStaleMs: number;
  kekMaxWraps: number;
  subjectKeyCacheSize: number;
}

/** Online key rotation (DESIGN.md, "Keys"; issue 7). */
export interface RotationSettings {
  kekRotateAfterDays: number;
  kekRotateAfterWraps: number;
  batchSize: number;
  workers: number;
  pollMs: number;
  blindIndexRetireGraceMs: number;
}

/** Raised when the environment does not describe a vault that may start; its message is one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;
const KNOWN = new Set<string>(SETTINGS.map((s) => s.env));

/** The configuration of a command (migrate, clients, keys): see `serving` below. */
export const loadCommandConfig = (): Config => loadConfig(process.env, { serving: false });

/**
 * Reads and validates the whole configuration once. This is the only place in the vault that
 * looks at the environment; everything else receives the typed result. `serving: false` is a command's (migrate, clients,
 * keys): it opens no listener, so it is not refused for the lack of a TLS certificate, and a
 * migration job or an operator's command needs only the database and key settings.
 */
export function loadConfig(env: Env = process.env, { serving = true }: { serving?: boolean } = {}): Config {
  rejectUnknownVaultVariables(env);
  const mode = readSetting(env, 'PDVAULT_MODE', 'development', serving) as Mode;
  const read = (name: SettingName) => readSetting(env, name, mode, serving);

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
      trustedProxies: (read('PDVAULT_TRUSTED_PROXIES') as string[] | undefined) ?? [],
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
    keys: {
      provider: read('PDVAULT_KEY_PROVIDER') as KeySettings['provider'],
      kms: {
        keyId: read('PDVAULT_KMS_KEY_ID') as string | undefined,
        region: read('PDVAULT_KMS_REGION') as string | undefined,
        endpoint: read('PDVAULT_KMS_ENDPOINT') as string | undefined,
        deadlineMs: read('PDVAULT_KMS_DEADLINE_MS') as number,
        maxAttempts: read('PDVAULT_KMS_MAX_ATTEMPTS') as number,
        readinessCheckMs: read('PDVAULT_KMS_READINESS_CHECK_MS') as number,
      },
      allowLocalKeyringInProduction: read('PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION') as boolean,
      kekCacheMaxAgeMs: read('PDVAULT_KEK_CACHE_MAX_AGE_MS') as number,
      kekCacheStaleMs: read('PDVAULT_KEK_CACHE_STALE_MS') as number,
      kekMaxWraps: read('PDVAULT_KEK_MAX_WRAPS') as number,
      subjectKeyCacheSize: read('PDVAULT_SUBJECT_KEY_CACHE_ENTRIES') as number,
    },
    rotation: {
      kekRotateAfterDays: read('PDVAULT_KEK_ROTATE_AFTER_DAYS') as number,
      kekRotateAfterWraps: read('PDVAULT_KEK_ROTATE_AFTER_WRAPS') as number,
      batchSize: read('PDVAULT_ROTATION_BATCH_SIZE') as number,
      workers: read('PDVAULT_ROTATION_WORKERS') as number,
      pollMs: read('PDVAULT_ROTATION_POLL_MS') as number,
      blindIndexRetireGraceMs: read('PDVAULT_BLIND_INDEX_RETIRE_GRACE_MS') as number,
    },
    identity: {
      issuer: read('PDVAULT_ISSUER') as string | undefined,
      audience: read('PDVAULT_TOKEN_AUDIENCE') as string,
      tokenTtlSeconds: read('PDVAULT_TOKEN_TTL_SECONDS') as number,
      tokenAlgorithm: read('PDVAULT_TOKEN_ALGORITHM') as IdentitySettings['tokenAlgorithm'],
      clockSkewSeconds: read('PDVAULT_TOKEN_CLOCK_SKEW_SECONDS') as number,
      tokenCacheEntries: read('PDVAULT_TOKEN_CACHE_ENTRIES') as number,
      standingCacheMs: read('PDVAULT_STANDING_CACHE_MS') as number,
      secretRotationOverlapSeconds: read('PDVAULT_SECRET_ROTATION_OVERLAP_SECONDS') as number,
      authFailuresPerClient: read('PDVAULT_AUTH_FAILURES_PER_CLIENT') as number,
      authFailuresPerAddress: read('PDVAULT_AUTH_FAILURES_PER_ADDRESS') as number,
      authFailureWindowSeconds: read('PDVAULT_AUTH_FAILURE_WINDOW_SECONDS') as number,
      argon2Concurrency: read('PDVAULT_ARGON2_CONCURRENCY') as number,
      argon2QueueLimit: read('PDVAULT_ARGON2_QUEUE_LIMIT') as number,
    },
    policy: {
      cacheMs: read('PDVAULT_POLICY_CACHE_MS') as number,
      defaultSubscribed: read('PDVAULT_DEFAULT_SUBSCRIBED') as boolean,
      defaultShareWithPartners: read('PDVAULT_DEFAULT_SHARE_WITH_PARTNERS') as boolean,
      approvalMaxLifetimeHours: read('PDVAULT_APPROVAL_MAX_LIFETIME_HOURS') as number,
    },
    audit: {
      commitIntervalMs: read('PDVAULT_AUDIT_COMMIT_INTERVAL_MS') as number,
      maxBatch: read('PDVAULT_AUDIT_MAX_BATCH') as number,
      queueLimit: read('PDVAULT_AUDIT_QUEUE_LIMIT') as number,
      checkpointIntervalSeconds: read('PDVAULT_AUDIT_CHECKPOINT_INTERVAL_SECONDS') as number,
    },
  };
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    throw new ConfigError('PDVAULT_HEADERS_TIMEOUT_MS must not exceed PDVAULT_REQUEST_TIMEOUT_MS');
  }
  // At or past the hard limit, the generation is retired before the job that re-wraps its keys starts.
  if (config.rotation.kekRotateAfterWraps > 0 && config.rotation.kekRotateAfterWraps >= config.keys.kekMaxWraps) {
    throw new ConfigError('PDVAULT_KEK_ROTATE_AFTER_WRAPS must be below PDVAULT_KEK_MAX_WRAPS (or 0, off)');
  }
    // GenerateDataKey's answer carries a KEK in plain: in production only over TLS, unless to this host.
  const endpoint = config.keys.kms.endpoint === undefined ? undefined : new URL(config.keys.kms.endpoint);
  if (mode === 'production' && endpoint?.protocol === 'http:' && !isLoopback(endpoint.hostname)) {
    throw new ConfigError('PDVAULT_KMS_ENDPOINT must be https in production mode (plain http only to a loopback address)');
  }
  return config;
}

const isLoopback = (hostname: string) => hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);

function rejectUnknownVaultVariables(env: Env): void {
  const unknown = Object.keys(env).filter((name) => name.startsWith('PDVAULT_') && !KNOWN.has(name));
  if (unknown.length > 0) {
    throw new ConfigError(`unknown setting ${unknown.sort().join(', ')} (a typo? see the README's configuration table)`);
  }
}

function readSetting(env: Env, name: SettingName, mode: Mode, serving: boolean): unknown {
  const setting: Setting = SETTINGS.find((s) => s.env === name)!;
  const given = env[name];
  // Empty or only spaces is unset, as a line `PDVAULT_PORT=` in an env file means.
  const raw = given === undefined || given.trim() === '' ? defaultFor(setting, mode) : given;
  if (raw === undefined) {
    if (mode === 'production' && (setting.requiredInProduction === true || (setting.requiredInProduction === 'to serve' && serving))) {
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
