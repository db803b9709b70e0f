import { AwsKmsProvider } from '../../src/crypto/aws-kms-provider';
import type { KeyHierarchy } from '../../src/crypto/key-hierarchy';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { KmsServer, TEST_AWS_CREDENTIALS, TEST_KMS_REGION } from '../support/kms-server';
import { captureLogs, CryptoTestBed, errorCode, ManualClock } from './hierarchy-fixture';

const MAX_AGE = 60_000;
const STALE = 120_000;
let kms: KmsServer;
let bed: CryptoTestBed;
const providers: AwsKmsProvider[] = [];

function awsProvider(): AwsKmsProvider {
  const provider = new AwsKmsProvider({ keyId: kms.key.arn, region: TEST_KMS_REGION, endpoint: kms.url, deadlineMs: 2000, maxAttempts: 2, credentials: TEST_AWS_CREDENTIALS });
  providers.push(provider);
  return provider;
}

/** A hierarchy on a manual clock whose KEK and subject keys are warm. */
async function warmHierarchy(subjects: string[]): Promise<{ keys: KeyHierarchy; clock: ManualClock; metrics: Metrics; logs: ReturnType<typeof captureLogs> }> {
  const clock = new ManualClock();
  const metrics = createMetrics();
  const logs = captureLogs();
  const keys = bed.hierarchy({ provider: awsProvider(), clock, metrics, logs, settings: { kekCacheMaxAgeMs: MAX_AGE, kekCacheStaleMs: STALE } });
  for (const subject of subjects) await keys.createSubjectKey(subject);
  return { keys, clock, metrics, logs };
}

/** Waits until a background refresh (real I/O, not the manual clock) has had the effect `done` looks for. */
async function eventually(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 10));
}
const logged = (logs: { lines: string[] }, text: string) => () => logs.lines.some((line) => line.includes(text));

beforeAll(async () => {
  kms = await KmsServer.start();
  bed = await CryptoTestBed.create();
});
afterEach(async () => {
  kms.setMode('normal');
  if (!(await fetch(kms.url, { method: 'POST' }).then(() => true, () => false))) await kms.resume();
  await bed.emptyKeyTables();
});
afterAll(async () => {
  for (const provider of providers) provider.close();
  await kms.close();
  await bed.close();
});

describe('a KMS outage', () => {
  it('does not stop reads while the cached KEK is within its stale bound', async () => {
    const { keys, clock, logs } = await warmHierarchy(['sub_a']);
    const sealed = await keys.seal('sub_a', 'email', 'a@example.com');
    await kms.stop();

    clock.advance(MAX_AGE + STALE / 2);
    expect((await keys.open('sub_a', 'email', sealed)).toString()).toBe('a@example.com');
    // Sealing under an existing subject key is a read of the hierarchy: it keeps working too.
    const during = await keys.seal('sub_a', 'phone', '+1 555 0100');
    await eventually(logged(logs, 'key provider unreachable'));
    expect((await keys.open('sub_a', 'phone', during)).toString()).toBe('+1 555 0100');
  });

  it('refuses new subject keys with 503 once the cached KEK is past its maximum age, writing nothing', async () => {
    const { keys, clock } = await warmHierarchy(['sub_a']);
    await kms.stop();
    clock.advance(MAX_AGE + 1);
    expect(await errorCode(keys.createSubjectKey('sub_new'))).toBe('kms_unavailable');
    expect(await errorCode(keys.sealSecret('jwt_signing_key', 'k', Buffer.alloc(4)))).toBe('kms_unavailable');
    expect(await bed.db('subject_keys').where({ subject_id: 'sub_new' }).first()).toBeUndefined();
  });

  it('stops reads with 503 once the stale bound has passed, and drops the cached keys', async () => {
    const { keys, clock } = await warmHierarchy(['sub_a']);
    const sealed = await keys.seal('sub_a', 'email', 'a@example.com');
    await kms.stop();
    clock.advance(MAX_AGE + STALE + 1);
    expect(await errorCode(keys.open('sub_a', 'email', sealed))).toBe('kms_unavailable');
    expect(await errorCode(keys.seal('sub_a', 'email', 'b@example.com'))).toBe('kms_unavailable');
  });

  it('recovers as soon as KMS answers again', async () => {
    const { keys, clock } = await warmHierarchy(['sub_a']);
    const sealed = await keys.seal('sub_a', 'email', 'a@example.com');
    await kms.stop();
    clock.advance(MAX_AGE + STALE + 1);
    expect(await errorCode(keys.open('sub_a', 'email', sealed))).toBe('kms_unavailable');
    await kms.resume();
    expect((await keys.open('sub_a', 'email', sealed)).toString()).toBe('a@example.com');
    await keys.createSubjectKey('sub_after');
  });

  it('drops the cached KEK at once when KMS refuses it (disabled key), instead of serving stale', async () => {
    const { keys, clock, logs } = await warmHierarchy(['sub_a']);
    const sealed = await keys.seal('sub_a', 'email', 'a@example.com');
    kms.setMode('disabled');
    // Past the refresh point: the background refresh hears "disabled" and evicts.
    clock.advance(MAX_AGE + 1);
    expect((await keys.open('sub_a', 'email', sealed)).toString()).toBe('a@example.com');
    await eventually(logged(logs, 'cached copy dropped'));
    expect(await errorCode(keys.open('sub_a', 'email', sealed))).toBe('kms_unavailable');
  });
});

describe('KMS stays off the hot path', () => {
  it('makes no KMS call for thousands of seals and opens inside one cache period', async () => {
    const { keys, metrics } = await warmHierarchy(['sub_1', 'sub_2', 'sub_3']);
    const before = kms.count();
    for (let i = 0; i < 3000; i++) {
      const subject = `sub_${(i % 3) + 1}`;
      await keys.open(subject, 'email', await keys.seal(subject, 'email', `user${i}@example.com`));
    }
    expect(kms.count() - before).toBe(0);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/pdvault_key_cache_hits_total\{cache="subject_key"\} 6000/);
    expect(text).toMatch(/pdvault_key_provider_calls_total\{operation="generate_data_key",outcome="success"\} 1/);
  });

  it('refreshes a KEK in the background before it expires, so readers never wait for KMS', async () => {
    const { keys, clock } = await warmHierarchy(['sub_a']);
    const sealed = await keys.seal('sub_a', 'email', 'a@example.com');
    const before = kms.count('Decrypt');
    clock.advance(MAX_AGE * 0.8);
    await keys.open('sub_a', 'email', sealed);
    await eventually(() => kms.count('Decrypt') - before === 1);
    clock.advance(MAX_AGE * 0.5);
    // Re-confirmed 0.5 max-age ago: fresh, and no further call however often it is used.
    for (let i = 0; i < 100; i++) await keys.open('sub_a', 'email', sealed);
    expect(kms.count('Decrypt') - before).toBe(1);
  });
});
