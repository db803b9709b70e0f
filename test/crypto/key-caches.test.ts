import { KekCache } from '../../src/crypto/kek-cache';
import { KeyProviderError } from '../../src/crypto/key-provider';
import { NO_KEY_METRICS } from '../../src/crypto/key-metrics';
import { SubjectKeyCache } from '../../src/crypto/subject-key-cache';
import { createMetrics } from '../../src/observability/metrics';
import { captureLogs, CryptoTestBed, errorCode, ManualClock } from './hierarchy-fixture';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const key = (byte: number) => Buffer.alloc(32, byte);
const isZero = (buffer: Buffer) => buffer.every((b) => b === 0);

describe('the subject-key cache', () => {
  it('holds no more subjects than its bound, dropping the least recently used first', () => {
    const cache = new SubjectKeyCache(3);
    for (let i = 1; i <= 5; i++) cache.set(`sub_${i}`, { current: 1, keys: new Map([[1, key(i)]]), kekGenerationIds: [1] });
    expect(cache.size).toBe(3);
    expect(cache.get('sub_1')).toBeUndefined();
    expect(cache.get('sub_5')).toBeDefined();
  });

  it('zeroes the key a reader was handed when its entry is evicted, replaced, deleted or cleared, after the turn, and reuses its memory only then', async () => {
    const cache = new SubjectKeyCache(2);
    const entry = (byte: number) => ({ current: 1, keys: new Map([[1, key(byte)]]), kekGenerationIds: [7] });
    const handed = (subjectId: string) => cache.get(subjectId)!.keys.get(1)!;
    cache.set('sub_a', entry(1));
    const evicted = handed('sub_a');
    cache.set('sub_b', entry(2));
    const cleared = handed('sub_b');
    cache.set('sub_c', entry(3));
    const replaced = handed('sub_c');
    cache.set('sub_c', entry(4));
    const deleted = handed('sub_c');
    cache.delete('sub_c');
    cache.clear();
    // Every key was set in this turn: none overwrote another's memory while a reader could hold it.
    expect([evicted, cleared, replaced, deleted].map((view) => view[0])).toEqual([1, 2, 3, 4]);
    await nextTurn();
    for (const view of [evicted, cleared, replaced, deleted]) expect(isZero(view)).toBe(true);
    // The next key goes where one of them was: the views were of the cache's own memory.
    cache.set('sub_d', entry(5));
    expect([evicted, cleared, replaced, deleted].filter((view) => view.equals(key(5)))).toHaveLength(1);
  });

  it('zeroes a subject with two key versions when it is evicted, after the turn', async () => {
    const cache = new SubjectKeyCache(1);
    const older = key(1), newer = key(2);
    cache.set('sub_a', { current: 2, keys: new Map([[1, older], [2, newer]]), kekGenerationIds: [1] });
    cache.set('sub_b', { current: 1, keys: new Map([[1, key(3)]]), kekGenerationIds: [1] });
    expect(isZero(newer)).toBe(false);
    await nextTurn();
    expect(isZero(older) && isZero(newer)).toBe(true);
  });

  it('keeps its own copy of a key it is given, and zeroes the given buffer after the turn', async () => {
    const cache = new SubjectKeyCache(2);
    const given = key(9);
    cache.set('sub_a', { current: 3, keys: new Map([[3, given]]), kekGenerationIds: [12] });
    await nextTurn();
    expect(isZero(given)).toBe(true);
    expect(cache.get('sub_a')).toEqual({ current: 3, keys: new Map([[3, key(9)]]), kekGenerationIds: [12] });
  });

  it('tells whether a subject is held under KEK generations still usable, for a slot and for a whole entry', () => {
    const cache = new SubjectKeyCache(2);
    cache.set('sub_one', { current: 1, keys: new Map([[1, key(1)]]), kekGenerationIds: [5] });
    cache.set('sub_two', { current: 2, keys: new Map([[1, key(1)], [2, key(2)]]), kekGenerationIds: [5, 6] });
    expect(cache.holdsUsable('sub_one', (generation) => generation === 5)).toBe(true);
    expect(cache.holdsUsable('sub_one', (generation) => generation === 6)).toBe(false);
    expect(cache.holdsUsable('sub_two', (generation) => generation === 5)).toBe(false);
    expect(cache.holdsUsable('sub_two', (generation) => generation >= 5)).toBe(true);
    expect(cache.holdsUsable('sub_none', () => true)).toBe(false);
  });

  it('holds a subject with two key versions as it was given', () => {
    const cache = new SubjectKeyCache(2);
    const twoVersions = { current: 2, keys: new Map([[1, key(1)], [2, key(2)]]), kekGenerationIds: [1, 2] };
    cache.set('sub_a', twoVersions);
    expect(cache.get('sub_a')).toBe(twoVersions);
  });

  it('still holds a key set while every slot awaits zeroing at the end of the turn', async () => {
    const cache = new SubjectKeyCache(1);
    for (let byte = 1; byte <= 4; byte++) cache.set(`sub_${byte}`, { current: 1, keys: new Map([[1, key(byte)]]), kekGenerationIds: [1] });
    expect(cache.get('sub_4')!.keys.get(1)).toEqual(key(4));
    await nextTurn();
    expect(cache.get('sub_4')!.keys.get(1)).toEqual(key(4));
    expect(cache.size).toBe(1);
  });
});

describe('the KEK cache', () => {
  const options = (clock: ManualClock) => ({ maxAgeMs: 1000, staleMs: 5000, maxEntries: 2, now: clock.now });

  it('holds no more generations than its bound, zeroing the oldest', async () => {
    const clock = new ManualClock();
    const cache = new KekCache(async () => key(9), options(clock), NO_KEY_METRICS, captureLogs().logger);
    const first = key(1);
    cache.put(1, first);
    cache.put(2, key(2));
    cache.put(3, key(3));
    expect(cache.size).toBe(2);
    expect(cache.usableForRead(1)).toBe(false);
    await nextTurn();
    expect(isZero(first)).toBe(true);
  });

  it('serves a key past its maximum age for reads only while the provider is unreachable, then not at all', async () => {
    const clock = new ManualClock();
    const provider = { down: false };
    const cache = new KekCache(async () => { if (provider.down) throw new KeyProviderError('unavailable', 'connection refused'); return key(1); }, options(clock), NO_KEY_METRICS, captureLogs().logger);
    cache.put(1, key(1));
    provider.down = true;
    clock.advance(1500);
    expect(cache.usableForRead(1)).toBe(true);
    expect((await cache.forRead(1)).equals(key(1))).toBe(true);
    expect(await errorCode(cache.forWrap(1))).toBe('kms_unavailable');
    clock.advance(5000);
    expect(cache.usableForRead(1)).toBe(false);
    expect(await errorCode(cache.forRead(1))).toBe('kms_unavailable');
  });

  it('drops a key at once when the provider refuses it', async () => {
    const clock = new ManualClock();
    const held = key(1);
    const cache = new KekCache(async () => { throw new KeyProviderError('denied', 'DisabledException'); }, options(clock), NO_KEY_METRICS, captureLogs().logger);
    cache.put(1, held);
    clock.advance(1500);
    expect(await errorCode(cache.forWrap(1))).toBe('kms_unavailable');
    expect(cache.usableForRead(1)).toBe(false);
    await nextTurn();
    expect(isZero(held)).toBe(true);
  });

  it('shares one provider call among concurrent misses', async () => {
    let calls = 0;
    const cache = new KekCache(async () => { calls += 1; return key(1); }, options(new ManualClock()), NO_KEY_METRICS, captureLogs().logger);
    const keys = await Promise.all(Array.from({ length: 20 }, () => cache.forRead(1)));
    expect(calls).toBe(1);
    expect(new Set(keys).size).toBe(1);
  });
});

describe('the key hierarchy under a small subject-key cache', () => {
  let bed: CryptoTestBed;
  beforeAll(async () => {
    bed = await CryptoTestBed.create();
  });
  afterAll(() => bed.close());

  it('keeps at most its bound of subjects unwrapped and re-unwraps evicted ones from the database without the provider', async () => {
    const metrics = createMetrics();
    const keys = bed.hierarchy({ settings: { subjectKeyCacheSize: 2 }, metrics });
    const sealed: Array<[string, Buffer]> = [];
    for (let i = 0; i < 6; i++) {
      await keys.createSubjectKey(`sub_${i}`);
      sealed.push([`sub_${i}`, await keys.seal(`sub_${i}`, 'email', `user${i}@example.com`)]);
    }
    for (const [subject, value] of sealed) expect((await keys.open(subject, 'email', value as never)).toString()).toBe(`user${subject.slice(4)}@example.com`);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/pdvault_key_cache_misses_total\{cache="subject_key"\} [1-9]/);
    // One GenerateDataKey for the generation; no Decrypt, the KEK stayed cached.
    expect(text).not.toMatch(/operation="decrypt"/);
  });

  it('keeps no subject key past its use while it hears of no deletions (the change feed is down), and keeps them again once it does', async () => {
    const keys = bed.hierarchy({ settings: { subjectKeyCacheSize: 10 } });
    await keys.createSubjectKey('sub_deaf');
    const sealed = await keys.seal('sub_deaf', 'email', 'deaf@example.com');
    expect(keys.cachedSubjects).toBe(1);

    keys.hearsSubjectKeyDeletions(false);
    expect(keys.cachedSubjects).toBe(0);
    expect((await keys.open('sub_deaf', 'email', sealed)).toString()).toBe('deaf@example.com');
    await keys.seal('sub_deaf', 'name', 'Deaf');
    expect(keys.cachedSubjects).toBe(0);

    keys.hearsSubjectKeyDeletions(true);
    expect((await keys.open('sub_deaf', 'email', sealed)).toString()).toBe('deaf@example.com');
    expect(keys.cachedSubjects).toBe(1);
  });
});
