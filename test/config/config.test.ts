import { ConfigError, loadConfig } from '../../src/config/config';
import { SETTINGS } from '../../src/config/settings';

const production = {
  PDVAULT_MODE: 'production',
  DATABASE_URL: 'postgres://vault@db.internal/vault',
  PDVAULT_TLS_CERT_FILE: '/etc/pdvault/cert.pem',
  PDVAULT_TLS_KEY_FILE: '/etc/pdvault/key.pem',
};

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a configuration error');
}

describe('configuration', () => {
  it('starts in development mode with safe defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.mode).toBe('development');
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8443, bodyLimitBytes: 65536 });
    expect(config.tls.minVersion).toBe('TLSv1.2');
    expect(config.database.url).toBeUndefined();
    expect(config.dataDir).toMatch(/\.pdvault$/);
  });

  it.each(['DATABASE_URL', 'PDVAULT_TLS_CERT_FILE', 'PDVAULT_TLS_KEY_FILE'])(
    'refuses production mode without %s, naming it in one line',
    (missing) => {
      const env: Record<string, string> = { ...production };
      delete env[missing];
      const error = errorOf(env);
      expect(error.message).toBe(`${missing} is required in production mode`);
      expect(error.message).not.toContain('\n');
    },
  );

  it('lets a command (migrate, clients, keys) load production settings without the TLS files only the listener reads', () => {
    const { PDVAULT_TLS_CERT_FILE: _cert, PDVAULT_TLS_KEY_FILE: _key, ...withoutTls } = production;
    expect(loadConfig(withoutTls, { serving: false }).tls.certFile).toBeUndefined();
    const { DATABASE_URL: _url, ...withoutDatabase } = withoutTls;
    expect(() => loadConfig(withoutDatabase, { serving: false })).toThrow('DATABASE_URL is required in production mode');
  });

  it('binds all interfaces by default in production', () => {
    expect(loadConfig(production).http.host).toBe('0.0.0.0');
  });

  it('refuses an unknown PDVAULT_ variable', () => {
    expect(errorOf({ PDVAULT_PROT: '8443' }).message).toMatch(/^unknown setting PDVAULT_PROT/);
  });

  it('ignores variables outside its prefix', () => {
    expect(() => loadConfig({ HOME: '/root', AWS_REGION: 'eu-west-1' })).not.toThrow();
  });

  it('refuses an invalid value without echoing it', () => {
    const error = errorOf({ PDVAULT_PORT: 'hunter2-secret' });
    expect(error.message).toMatch(/^PDVAULT_PORT is invalid/);
    expect(error.message).not.toContain('hunter2');
  });

  it.each(['not a url at all', 'mysql://vault:s3cret@db.internal/vault', 'db.internal:5432'])('refuses a DATABASE_URL that is no PostgreSQL connection string (%s), saying what one looks like, without echoing it', (url) => {
    const error = errorOf({ ...production, DATABASE_URL: url });
    expect(error.message).toBe('DATABASE_URL is invalid: must be a PostgreSQL connection URL, e.g. postgres://user@db.internal:5432/pdvault (a Unix socket: postgres:///pdvault?host=/var/run/postgresql)');
    expect(error.message).not.toContain('s3cret');
  });

  it.each(['postgresql://vault@db.internal:6432/vault?sslmode=verify-full', 'postgres:///vault?host=/var/run/postgresql', 'postgres://vault@/vault?host=/var/run/postgresql', 'socket:/var/run/postgresql?db=vault'])('takes %s', (url) => {
    expect(loadConfig({ ...production, DATABASE_URL: url }).database.url).toBe(url);
  });

  it('refuses a PDVAULT_ISSUER that is not https, saying so', () => {
    expect(errorOf({ ...production, PDVAULT_ISSUER: 'http://vault.example' }).message).toBe('PDVAULT_ISSUER is invalid: must be an https:// URL');
  });

  it('accepts TLS 1.3 only', () => {
    expect(loadConfig({ PDVAULT_TLS_MIN_VERSION: 'TLSv1.3' }).tls.minVersion).toBe('TLSv1.3');
    expect(errorOf({ PDVAULT_TLS_MIN_VERSION: 'TLSv1.1' }).message).toMatch(/^PDVAULT_TLS_MIN_VERSION is invalid/);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(errorOf({ PDVAULT_HEADERS_TIMEOUT_MS: '60000', PDVAULT_REQUEST_TIMEOUT_MS: '30000' }).message).toMatch(/must not exceed/);
  });

  it('reads numbers written in digits only, and a value of spaces as unset', () => {
    for (const value of ['0x50', '1e3', '0b11', '80.5', '-1', '8 443']) {
      expect([value, errorOf({ PDVAULT_PORT: value }).message]).toEqual([value, expect.stringMatching(/^PDVAULT_PORT is invalid/)]);
    }
    expect(loadConfig({ PDVAULT_PORT: ' 9443 ' }).http.port).toBe(9443);
    expect(loadConfig({ PDVAULT_PORT: '  ' }).http.port).toBe(8443);
    expect(loadConfig({ PDVAULT_KEK_ROTATE_AFTER_DAYS: ' ' }).rotation.kekRotateAfterDays).toBe(90);
  });

  it('refuses a KEK rotation trigger at or past the hard limit of wraps', () => {
    expect(errorOf({ PDVAULT_KEK_ROTATE_AFTER_WRAPS: '1000', PDVAULT_KEK_MAX_WRAPS: '1000' }).message).toMatch(/must be below PDVAULT_KEK_MAX_WRAPS/);
    expect(loadConfig({ PDVAULT_KEK_ROTATE_AFTER_WRAPS: '0', PDVAULT_KEK_MAX_WRAPS: '1000' }).rotation.kekRotateAfterWraps).toBe(0);
  });

  it('refuses a plain-http KMS endpoint in production, except on this host', () => {
    const aws = { ...production, PDVAULT_KEY_PROVIDER: 'aws', PDVAULT_KMS_KEY_ID: 'alias/pdvault' };
    expect(errorOf({ ...aws, PDVAULT_KMS_ENDPOINT: 'http://kms.internal.example:8080' }).message).toMatch(/^PDVAULT_KMS_ENDPOINT must be https in production/);
    expect(loadConfig({ ...aws, PDVAULT_KMS_ENDPOINT: 'https://kms.internal.example' }).keys.kms.endpoint).toBe('https://kms.internal.example');
    expect(loadConfig({ ...aws, PDVAULT_KMS_ENDPOINT: 'http://127.0.0.1:4599' }).keys.kms.endpoint).toBe('http://127.0.0.1:4599');
    expect(loadConfig({ PDVAULT_KMS_ENDPOINT: 'http://kms.dev.example' }).keys.kms.endpoint).toBe('http://kms.dev.example');
  });

  it('documents every setting', () => {
    for (const setting of SETTINGS) expect(setting.doc.length).toBeGreaterThan(20);
  });
});
