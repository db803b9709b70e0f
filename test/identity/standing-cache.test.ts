import { StandingCache, type StandingSource } from '../../src/identity/standing-cache';
import type { ClientStanding } from '../../src/store/clients';
import { eventually } from '../support/eventually';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accessToken, registerAdmin } from './support/identity-helpers';

const good: ClientStanding = { enabled: true, expiresAt: null, revoked: false, scopes: ['admin:clients'], purposes: [] };

/** A source that answers what `answer` holds now and counts the questions. */
function countingSource(): StandingSource & { asked: number; answer: ClientStanding; gate?: Promise<void> } {
  const source = {
    asked: 0,
    answer: good,
    gate: undefined as Promise<void> | undefined,
    async standing() {
      source.asked += 1;
      const answer = source.answer;
      await source.gate;
      return answer;
    },
  };
  return source;
}

/** A cache over a counting source, listening (trusted) unless told otherwise. */
function cacheOver(maxAgeMs = 60_000, listening = true) {
  const source = countingSource();
  const cache = new StandingCache(source, { maxAgeMs, maxEntries: 10 });
  if (listening) cache.listening(true);
  return { source, cache };
}

describe('StandingCache', () => {
  it('answers from memory while the change feed listens', async () => {
    const { source, cache } = cacheOver();
    await cache.standing('c1', 'j1');
    expect(await cache.standing('c1', 'j1')).toEqual(good);
    expect(source.asked).toBe(1);
  });

  it('asks the source on every call while the feed is down, and forgets everything when it goes down', async () => {
    const { source, cache } = cacheOver(60_000, false);
    await cache.standing('c1', 'j1');
    await cache.standing('c1', 'j1');
    expect(source.asked).toBe(2);
    cache.listening(true);
    await cache.standing('c1', 'j1');
    cache.listening(false);
    source.answer = { ...good, enabled: false };
    expect((await cache.standing('c1', 'j1'))?.enabled).toBe(false);
    expect(source.asked).toBe(4);
  });

  it('never caches with a maximum age of 0', async () => {
    const { source, cache } = cacheOver(0);
    await cache.standing('c1', 'j1');
    await cache.standing('c1', 'j1');
    expect(source.asked).toBe(2);
    expect(cache.isTrusted).toBe(false);
  });

  it("drops a client's answers when a change to it is announced, and only that client's", async () => {
    const { source, cache } = cacheOver();
    await cache.standing('c1', 'j1');
    await cache.standing('c2', 'j2');
    cache.changed('c1');
    source.answer = { ...good, revoked: true };
    expect((await cache.standing('c1', 'j1'))?.revoked).toBe(true);
    expect((await cache.standing('c2', 'j2'))?.revoked).toBe(false);
    expect(source.asked).toBe(3);
  });

  it('uses but does not keep an answer that was being read when a change arrived', async () => {
    const { source, cache } = cacheOver();
    let release!: () => void;
    source.gate = new Promise((resolve) => (release = resolve));
    const reading = cache.standing('c1', 'j1');
    cache.changed('c1');
    release();
    expect(await reading).toEqual(good);
    source.gate = undefined;
    source.answer = { ...good, enabled: false };
    expect((await cache.standing('c1', 'j1'))?.enabled).toBe(false);
  });

  it('does not serve an answer cached for the same token id under another client', async () => {
    const { source, cache } = cacheOver();
    await cache.standing('c1', 'j1');
    await cache.standing('c2', 'j1');
    expect(source.asked).toBe(2);
  });
});

describe('token standing on a running vault', () => {
  let vault: TestVault;
  beforeAll(async () => {
    // A minute of cache: within these tests only an announcement can make the vault ask again.
    vault = await startTestVault({ PDVAULT_STANDING_CACHE_MS: '60000' });
  });
  afterAll(() => vault.stop());

  const listClients = (token: string) => vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`);
  const feedUp = async () => (await vault.vault.metrics.registry.getSingleMetric('pdvault_client_standing_feed_up')?.get())?.values[0]?.value;
  const until = (condition: () => Promise<boolean>) => eventually(condition, 'feed state');

  it('follows client changes once started (the feed is up)', async () => {
    await until(async () => (await feedUp()) === 1);
  });

  const refused = (token: string) => eventually(async () => (await listClients(token)).status === 401, 'a 401');

  it('refuses a token whose standing was cached once a client disabled by SQL outside the vault is announced', async () => {
    const other = await registerAdmin(vault);
    const token = await accessToken(vault, other, { scope: 'admin:clients' });
    await listClients(token).expect(200);
    await listClients(token).expect(200);
    await vault.vault.db('clients').where({ id: other.clientId }).update({ enabled: false });
    await refused(token);
    expect((await listClients(token).expect(401)).body.code).toBe('invalid_token');
  });

  it('refuses a token once a revocation inserted by SQL outside the vault is announced', async () => {
    const other = await registerAdmin(vault);
    const token = await accessToken(vault, other, { scope: 'admin:clients' });
    await listClients(token).expect(200);
    const { jti, exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string; exp: number };
    await vault.vault.db('revoked_tokens').insert({ jti, client_id: other.clientId, expires_at: new Date(exp * 1000) });
    await refused(token);
  });

  it('refuses the very next request after this instance disables the client, without waiting for the announcement', async () => {
    const other = await registerAdmin(vault);
    const token = await accessToken(vault, other, { scope: 'admin:clients' });
    await listClients(token).expect(200);
    await vault.vault.identity.clients.disable(other.clientId, { via: 'cli' });
    await listClients(token).expect(401);
  });

  it('asks the database while the feed is lost, then listens again by itself', async () => {
    const other = await registerAdmin(vault);
    const token = await accessToken(vault, other, { scope: 'admin:clients' });
    await listClients(token).expect(200);
    await vault.vault.db.raw(`select pg_terminate_backend(pid) from pg_stat_activity where application_name like '%-listener' and datname = current_database()`);
    // The listener retries after a quarter of a second: the gap is wide enough to see.
    await until(async () => (await feedUp()) === 0);
    await vault.vault.db('clients').where({ id: other.clientId }).update({ enabled: false });
    await listClients(token).expect(401);
    await until(async () => (await feedUp()) === 1);
    await vault.vault.db('clients').where({ id: other.clientId }).update({ enabled: true });
    await listClients(token).expect(200);
  });
});
