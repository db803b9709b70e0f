import { KmsServer, kmsEnv } from '../support/kms-server';
import { startTestVault, type TestVault } from '../support/test-vault';

describe('a vault on the local keyring', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault();
  });
  afterAll(() => vault.stop());

  it('reports key_provider ready on /readyz', async () => {
    const res = await vault.get('/readyz').expect(200);
    expect(res.body.checks).toContainEqual({ name: 'key_provider', ok: true });
  });

  it('seals and opens through RunningVault.keys, the path later issues use', async () => {
    await vault.vault.keys.createSubjectKey('sub_readyz');
    const sealed = await vault.vault.keys.seal('sub_readyz', 'email', 'r@example.com');
    expect((await vault.vault.keys.open('sub_readyz', 'email', sealed)).toString()).toBe('r@example.com');
  });

  it('warns loudly in its log that the keyring is local', () => {
    expect(vault.logs.some((line) => line.includes('LOCAL KEYRING IN USE'))).toBe(true);
  });

  it('counts provider calls and key-cache hits at /metrics', async () => {
    const res = await vault.get('/metrics').expect(200);
    expect(res.text).toMatch(/pdvault_key_provider_calls_total\{operation="generate_data_key",outcome="success"\} 1/);
    expect(res.text).toMatch(/pdvault_key_cache_hits_total\{cache="subject_key"\} \d+/);
    expect(res.text).toMatch(/pdvault_key_cache_hits_total\{cache="kek"\} \d+/);
  });
});

describe('a vault on AWS KMS', () => {
  let kms: KmsServer;
  let vault: TestVault;
  beforeAll(async () => {
    kms = await KmsServer.start();
    // Every probe asks the provider, so each test sees the state it sets at once.
    vault = await startTestVault({ ...kmsEnv(kms), PDVAULT_KMS_READINESS_CHECK_MS: '0' });
  });
  afterAll(async () => {
    await vault.stop();
    await kms.close();
  });

  it('reports key_provider ready while the KMS key is enabled', async () => {
    const res = await vault.get('/readyz').expect(200);
    expect(res.body.checks).toContainEqual({ name: 'key_provider', ok: true });
    expect(kms.count('GenerateDataKey')).toBe(1);
  });

  it('reports key_provider not ready when the KMS key is disabled', async () => {
    kms.setMode('disabled');
    try {
      const res = await vault.get('/readyz').expect(503);
      expect(res.body.checks).toContainEqual({ name: 'key_provider', ok: false, detail: 'KMS key state Disabled' });
    } finally {
      kms.setMode('normal');
    }
  });

  it('reports key_provider not ready when KMS is unreachable', async () => {
    await kms.stop();
    try {
      const res = await vault.get('/readyz').expect(503);
      expect(res.body.checks).toContainEqual({ name: 'key_provider', ok: false, detail: 'key provider unreachable' });
    } finally {
      await kms.resume();
    }
  });
});

describe('readiness probes against AWS KMS, as configured by default', () => {
  let kms: KmsServer;
  let vault: TestVault;
  beforeAll(async () => {
    kms = await KmsServer.start();
    vault = await startTestVault(kmsEnv(kms));
  });
  afterAll(async () => {
    await vault.stop();
    await kms.close();
  });

  it('cost at most one DescribeKey for many probes, and a throttled call does not mark the instance not ready', async () => {
    await vault.get('/readyz').expect(200);
    const before = kms.count('DescribeKey');
    await Promise.all(Array.from({ length: 20 }, () => vault.get('/readyz').expect(200)));
    kms.throttle(1);
    await vault.get('/readyz').expect(200);
    expect(kms.count('DescribeKey') - before).toBe(0);
  });

  it('asks again at the next probe after a failure, so recovery shows at once', async () => {
    // Good answers are trusted for a minute here; a failure is not.
    const check = vault.vault.keys.readinessCheck(60_000);
    await kms.stop();
    try {
      expect((await check.check()).ok).toBe(false);
    } finally {
      await kms.resume();
    }
    expect((await check.check()).ok).toBe(true);
  });
});
