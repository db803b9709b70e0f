import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';
import { keyProviderFromConfig } from '../../src/crypto/key-hierarchy-from-config';
import { kekContext } from '../../src/crypto/kek-generations';
import { LOCAL_KEYRING_FILE, LocalKeyring } from '../../src/crypto/local-keyring';
import { captureLogs } from './hierarchy-fixture';

const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-keyring-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

describe('the local keyring', () => {
  it('is created on first start with mode 0600, announced by a loud warning, and reused after', async () => {
    const dir = tempDir();
    const logs = captureLogs();
    const first = LocalKeyring.openOrCreate(dir, logs.logger);
    const file = path.join(dir, LOCAL_KEYRING_FILE);
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    const warning = JSON.parse(logs.lines.find((line) => line.includes('LOCAL KEYRING IN USE'))!);
    expect(warning).toMatchObject({ level: 'warn', created: true });

    const dataKey = await first.generateDataKey(kekContext(1));
    const second = LocalKeyring.openOrCreate(dir, captureLogs().logger);
    expect((await second.decryptDataKey(dataKey.wrapped, kekContext(1))).equals(dataKey.plaintext)).toBe(true);
  });

  it('never writes key material to the log', async () => {
    const dir = tempDir();
    const logs = captureLogs();
    LocalKeyring.openOrCreate(dir, logs.logger);
    const stored = JSON.parse(fs.readFileSync(path.join(dir, LOCAL_KEYRING_FILE), 'utf8')) as { keys: Record<string, string> };
    for (const key of Object.values(stored.keys)) expect(logs.lines.join('\n')).not.toContain(key);
  });

  it('refuses a keyring file other users can read', () => {
    const dir = tempDir();
    LocalKeyring.openOrCreate(dir, captureLogs().logger);
    fs.chmodSync(path.join(dir, LOCAL_KEYRING_FILE), 0o644);
    expect(() => LocalKeyring.openOrCreate(dir, captureLogs().logger)).toThrow(/readable by other users/);
  });

  it('refuses a keyring file another user owns', () => {
    const dir = tempDir();
    LocalKeyring.openOrCreate(dir, captureLogs().logger);
    const file = path.join(dir, LOCAL_KEYRING_FILE);
    // Only root can give a file away; elsewhere there is nothing to check here.
    if (process.getuid?.() !== 0) return;
    fs.chownSync(file, 65534, 65534);
    expect(() => LocalKeyring.openOrCreate(dir, captureLogs().logger)).toThrow(/owned by another user \(uid 65534\)/);
  });

  it('rotates its master key and still unwraps keys wrapped under the previous one', async () => {
    const keyring = LocalKeyring.openOrCreate(tempDir(), captureLogs().logger);
    const old = await keyring.generateDataKey(kekContext(1));
    expect(old.providerKeyRef).toBe('local:v1');
    expect(keyring.rotateMasterKey()).toBe(2);
    const rewrapped = await keyring.reEncryptDataKey(old.wrapped, kekContext(1));
    expect(rewrapped.providerKeyRef).toBe('local:v2');
    expect((await keyring.decryptDataKey(old.wrapped, kekContext(1))).equals(old.plaintext)).toBe(true);
    expect((await keyring.decryptDataKey(rewrapped.wrapped, kekContext(1))).equals(old.plaintext)).toBe(true);
  });

  it('opens keys wrapped under a version another process added to the file, and never reuses that version number', async () => {
    const dir = tempDir();
    const running = LocalKeyring.openOrCreate(dir, captureLogs().logger);
    const commandLine = LocalKeyring.openOrCreate(dir, captureLogs().logger);
    expect(commandLine.rotateMasterKey()).toBe(2);
    const wrappedElsewhere = await commandLine.generateDataKey(kekContext(1));

    expect((await running.decryptDataKey(wrappedElsewhere.wrapped, kekContext(1))).equals(wrappedElsewhere.plaintext)).toBe(true);
    running.useKey('local:v2');
    expect(running.currentKeyRef()).toBe('local:v2');
    // A rotation here continues after the other process's version instead of writing over it.
    expect(running.rotateMasterKey()).toBe(3);
    expect((await LocalKeyring.openOrCreate(dir, captureLogs().logger).decryptDataKey(wrappedElsewhere.wrapped, kekContext(1))).equals(wrappedElsewhere.plaintext)).toBe(true);
  });

  it('rejects a wrapped key presented with another encryption context', async () => {
    const keyring = LocalKeyring.openOrCreate(tempDir(), captureLogs().logger);
    const dataKey = await keyring.generateDataKey(kekContext(1));
    await expect(keyring.decryptDataKey(dataKey.wrapped, kekContext(2))).rejects.toMatchObject({ reason: 'invalid_ciphertext' });
  });
});

describe('choosing the key provider', () => {
  const production = { PDVAULT_MODE: 'production', DATABASE_URL: 'postgres://x/y', PDVAULT_TLS_CERT_FILE: 'c', PDVAULT_TLS_KEY_FILE: 'k' };

  it('refuses the local keyring in production mode unless explicitly allowed', () => {
    const dataDir = tempDir();
    const refused = loadConfig({ ...production, PDVAULT_DATA_DIR: dataDir, PDVAULT_KEY_PROVIDER: 'local' });
    expect(() => keyProviderFromConfig(refused, captureLogs().logger)).toThrow(ConfigError);
    expect(fs.existsSync(path.join(dataDir, LOCAL_KEYRING_FILE))).toBe(false);

    const allowed = loadConfig({ ...production, PDVAULT_DATA_DIR: dataDir, PDVAULT_KEY_PROVIDER: 'local', PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION: 'true' });
    expect(keyProviderFromConfig(allowed, captureLogs().logger).name).toBe('local');
  });

  it('uses AWS KMS by default in production, and requires its key id', () => {
    const config = loadConfig({ ...production, PDVAULT_DATA_DIR: tempDir() });
    expect(config.keys.provider).toBe('aws');
    expect(() => keyProviderFromConfig(config, captureLogs().logger)).toThrow('PDVAULT_KMS_KEY_ID is required when PDVAULT_KEY_PROVIDER is aws');
  });

  it('uses the local keyring by default in development', () => {
    const config = loadConfig({ PDVAULT_DATA_DIR: tempDir() });
    expect(config.keys.provider).toBe('local');
    expect(keyProviderFromConfig(config, captureLogs().logger).name).toBe('local');
  });
});
