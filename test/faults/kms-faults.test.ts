import { KmsServer, kmsEnv } from '../support/kms-server';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, SAMPLE, type Caller } from '../vault/support/data-callers';
import { answered, attempt, describeOutcome, pollUntil, type Outcome } from './support/bounded';

/**
 * KMS failing under a steady stream of reads and writes, against the real AWS SDK talking to
 * the loopback KMS server. A KEK is re-confirmed after MAX_AGE_MS; past that, new subject keys
 * need KMS, while reads (and updates under existing subject keys) go on from the cache for
 * STALE_MS more.
 */
const MAX_AGE_MS = 1500;
const STALE_MS = 120_000;
const KMS_DEADLINE_MS = 1000;

let kms: KmsServer;
let vault: TestVault;
let account: Caller;
/** Read in every round, never changed. */
let reader: { id: string; name: string };
/** Patched in every round; its ETag and name follow each acknowledged update. */
let patched: { id: string; etag: string; name: string };
let created = 0;

beforeAll(async () => {
  kms = await KmsServer.start();
  vault = await startTestVault({
    ...kmsEnv(kms, KMS_DEADLINE_MS),
    PDVAULT_KMS_MAX_ATTEMPTS: '3',
    PDVAULT_KEK_CACHE_MAX_AGE_MS: String(MAX_AGE_MS),
    PDVAULT_KEK_CACHE_STALE_MS: String(STALE_MS),
  });
  account = await accountService(vault);
  reader = { ...(await createSubject(vault, account, { ...SAMPLE, name: 'Read Only' })), name: 'Read Only' };
  patched = { ...(await createSubject(vault, account)), name: SAMPLE.name };
});
afterAll(async () => {
  await vault?.stop();
  await kms?.close();
});

interface Round {
  read: Outcome;
  update: Outcome;
  create: Outcome;
}

/** One round of traffic, its three requests in flight together: a read, an update, a creation. */
async function round(): Promise<Round> {
  const name = `Patched ${++created}`;
  const [read, update, create] = await Promise.all([
    attempt(vault.get(`/v1/subjects/${reader.id}`).set('Authorization', auth(account))),
    attempt(vault.patch(`/v1/subjects/${patched.id}`).set('Authorization', auth(account)).set('If-Match', patched.etag).send({ name })),
    attempt(vault.post('/v1/subjects').set('Authorization', auth(account)).send({ ...SAMPLE, email: `created${created}@example.com` })),
  ]);
  if (answered(update) && update.status === 200) patched = { ...patched, etag: update.etag!, name };
  return { read, update, create };
}

const rowCount = async (table: string) => Number((await vault.vault.db(table).count({ n: '*' }))[0]!.n);
const stored = async () => ({ subjects: await rowCount('subjects'), subjectKeys: await rowCount('subject_keys') });
const isCreated = (o: Outcome) => answered(o) && o.status === 201;
const isKmsRefusal = (o: Outcome) => answered(o) && o.status === 503 && o.code === 'kms_unavailable';

/** Reads and updates under existing keys keep working; creations are 201 or a clean 503 kms_unavailable. */
function expectServedWithinStaleness(rounds: Round[]): void {
  for (const { read, update, create } of rounds) {
    expect(describeOutcome(read)).toBe('200');
    expect(answered(read) && read.body.name).toBe(reader.name);
    expect(describeOutcome(update)).toBe('200');
    expect(['201', '503 kms_unavailable']).toContain(describeOutcome(create));
  }
}

/**
 * Runs traffic through a KMS fault: until creations are refused (the KEK has passed its
 * maximum age and KMS cannot re-confirm it), a few rounds more, then heals KMS and runs until
 * creations are accepted again. Returns the rounds during the fault.
 */
async function throughFault(fault: () => Promise<void> | void, heal: () => Promise<void> | void): Promise<Round[]> {
  const before = await stored();
  await fault();
  const rounds: Round[] = [];
  await pollUntil('a creation refused with kms_unavailable', async () => {
    const r = await round();
    rounds.push(r);
    return isKmsRefusal(r.create) ? true : undefined;
  }, { attempts: 60, intervalMs: 50 });
  const refusedFrom = rounds.length;
  for (let i = 0; i < 3; i++) rounds.push(await round());

  expectServedWithinStaleness(rounds);
  // Once refused, every creation is refused while KMS is down: no new key is wrapped by a KEK KMS did not re-confirm.
  for (const r of rounds.slice(refusedFrom)) expect(describeOutcome(r.create)).toBe('503 kms_unavailable');
  const acknowledged = rounds.filter((r) => isCreated(r.create)).length;
  const after = await stored();
  expect(after).toEqual({ subjects: before.subjects + acknowledged, subjectKeys: before.subjectKeys + acknowledged });

  await heal();
  const recovered = await pollUntil('a creation accepted again after KMS came back', async () => {
    const r = await round();
    return isCreated(r.create) ? r : undefined;
  }, { attempts: 60, intervalMs: 100 });
  expectServedWithinStaleness([recovered]);
  return rounds;
}

describe('KMS failing while reads and writes run', () => {
  it('stopped: reads and updates go on from the cache, creations get 503 kms_unavailable and store nothing, and creations resume once KMS listens again', async () => {
    await throughFault(() => kms.stop(), () => kms.resume());
  });

  it('stopped: /readyz reports the key provider down while it is, and up again without a restart', async () => {
    await kms.stop();
    try {
      const down = await vault.get('/readyz').expect(503);
      expect(down.body.checks).toContainEqual({ name: 'key_provider', ok: false, detail: 'key provider unreachable' });
      expect(down.body.checks).toContainEqual({ name: 'database', ok: true });
    } finally {
      await kms.resume();
    }
    const up = await vault.get('/readyz').expect(200);
    expect(up.body.checks).toContainEqual({ name: 'key_provider', ok: true });
  });

  it('stalled (accepts, never answers): creations fail with 503 kms_unavailable within the KMS deadline instead of hanging, reads go on, and it recovers', async () => {
    const stalledBefore = kms.calls.filter((c) => c.outcome === 'stalled').length;
    await throughFault(() => kms.setMode('stall'), () => kms.setMode('normal'));
    expect(kms.calls.filter((c) => c.outcome === 'stalled').length).toBeGreaterThan(stalledBefore);
  });

  it('throttling once: the SDK retries and creations go on being accepted', async () => {
    const throttledBefore = kms.calls.filter((c) => c.outcome === 'ThrottlingException').length;
    kms.throttle(1);
    const rounds: Round[] = [];
    // Runs until the KEK needed re-confirming, the call was throttled, and the SDK's retry was answered.
    const retried = () => {
      const throttles = kms.calls.flatMap((c, i) => (c.outcome === 'ThrottlingException' ? [i] : []));
      const last = throttles.at(-1);
      return throttles.length > throttledBefore && last !== undefined && kms.calls.slice(last + 1).some((c) => c.outcome === 'ok') ? true : undefined;
    };
    await pollUntil('a throttled KMS call, retried', async () => {
      rounds.push(await round());
      return retried();
    }, { attempts: 80, intervalMs: 50 });
    rounds.push(await round());
    for (const r of rounds) {
      expect(describeOutcome(r.read)).toBe('200');
      expect(describeOutcome(r.update)).toBe('200');
      expect(describeOutcome(r.create)).toBe('201');
    }
  });

  it('throttling every call: creations get 503 kms_unavailable and store nothing, reads go on, and it recovers when the throttling ends', async () => {
    await throughFault(() => kms.throttle(100_000), () => kms.throttle(0));
  });

  it('keeps every update it acknowledged through the faults', async () => {
    const res = await vault.get(`/v1/subjects/${patched.id}`).set('Authorization', auth(account)).expect(200);
    expect(res.headers.etag).toBe(patched.etag);
    expect(res.body.name).toBe(patched.name);
  });
});

describe('a KMS outage longer than the stale bound', () => {
  let shortKms: KmsServer;
  let shortVault: TestVault;
  let caller: Caller;
  let subject: { id: string };
  beforeAll(async () => {
    shortKms = await KmsServer.start();
    shortVault = await startTestVault({
      ...kmsEnv(shortKms, KMS_DEADLINE_MS),
      PDVAULT_KEK_CACHE_MAX_AGE_MS: '1000',
      PDVAULT_KEK_CACHE_STALE_MS: '1500',
    });
    caller = await accountService(shortVault);
    subject = await createSubject(shortVault, caller);
  });
  afterAll(async () => {
    await shortVault?.stop();
    await shortKms?.close();
  });

  it('stops reads with 503 kms_unavailable (revealing nothing) once the cached KEK is past it, and serves them again when KMS is back', async () => {
    const read = () => attempt(shortVault.get(`/v1/subjects/${subject.id}`).set('Authorization', auth(caller)));
    await shortKms.stop();
    const reads: Outcome[] = [];
    try {
      await pollUntil('a read refused past the stale bound', async () => {
        const outcome = await read();
        reads.push(outcome);
        return isKmsRefusal(outcome) ? true : undefined;
      }, { attempts: 100, intervalMs: 100 });
      for (const outcome of reads) expect(['200', '503 kms_unavailable']).toContain(describeOutcome(outcome));
      const refused = reads.at(-1)!;
      expect(answered(refused) && refused.text).not.toContain(SAMPLE.email);
      expect(answered(refused) && refused.body.name).toBeUndefined();
    } finally {
      await shortKms.resume();
    }
    const again = await pollUntil('a read served again', async () => {
      const outcome = await read();
      return answered(outcome) && outcome.status === 200 ? outcome : undefined;
    }, { attempts: 50, intervalMs: 100 });
    expect(answered(again) && again.body).toMatchObject(SAMPLE);
  });
});
