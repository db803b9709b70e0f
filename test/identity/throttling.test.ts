import { AuthThrottle, sourceOf } from '../../src/identity/auth-throttle';
import { startTestVault, type TestVault } from '../support/test-vault';
import { registerClient, requestToken, startSecondInstance, type Credentials } from './support/identity-helpers';

let vault: TestVault;
beforeAll(async () => {
  // Loopback is a trusted proxy here, so a test can speak from other addresses with X-Forwarded-For.
  vault = await startTestVault({
    PDVAULT_AUTH_FAILURES_PER_CLIENT: '3',
    PDVAULT_AUTH_FAILURES_PER_ADDRESS: '8',
    PDVAULT_AUTH_FAILURE_WINDOW_SECONDS: '120',
    PDVAULT_TRUSTED_PROXIES: '127.0.0.0/8, ::1',
  });
});
afterAll(() => vault.stop());

const grant = { grant_type: 'client_credentials', scope: 'payment_methods:read', purpose: 'billing' };
const wrong = (c: Credentials) => ({ ...c, clientSecret: c.clientSecret.slice(0, -1) + (c.clientSecret.endsWith('A') ? 'B' : 'A') });

describe('throttling failed client authentication', () => {
  beforeEach(() => vault.vault.db('auth_failures').delete());

  it('answers 429 with Retry-After once a client id has failed too often, even with the right secret', async () => {
    const client = await registerClient(vault);
    for (let i = 0; i < 3; i += 1) await requestToken(vault, wrong(client), grant).expect(401);
    const res = await requestToken(vault, client, grant).expect(429);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(120);
  });

  it('lets a burst of wrong secrets sent at once fail no more often than the limit; the rest are 429 and not counted', async () => {
    const client = await registerClient(vault);
    const burst = await Promise.all(Array.from({ length: 12 }, () => requestToken(vault, wrong(client), grant).set('X-Forwarded-For', '198.51.100.7')));
    const statuses = burst.map((res) => res.status).sort();
    expect(statuses).toEqual([...Array<number>(3).fill(401), ...Array<number>(9).fill(429)]);
    // Three failures counted for the client id, and three for the source: the refused ones spent none of its allowance.
    await requestToken(vault, client, grant).set('X-Forwarded-For', '198.51.100.7').expect(429);
    const other = await registerClient(vault);
    for (let i = 0; i < 3; i += 1) await requestToken(vault, wrong(other), grant).set('X-Forwarded-For', '198.51.100.7').expect(401);
    await requestToken(vault, (await registerClient(vault)), grant).set('X-Forwarded-For', '198.51.100.7').expect(200);
  });

  it('throttles a client id only from the source that failed: anyone knowing the id cannot lock the client out', async () => {
    const client = await registerClient(vault);
    for (let i = 0; i < 3; i += 1) await requestToken(vault, wrong(client), grant).set('X-Forwarded-For', '203.0.113.5').expect(401);
    await requestToken(vault, client, grant).set('X-Forwarded-For', '203.0.113.5').expect(429);
    await requestToken(vault, client, grant).set('X-Forwarded-For', '203.0.113.6').expect(200);
  });

  it('counts a global IPv6 /64 as one source, whichever of its addresses a request comes from', async () => {
    for (let i = 1; i <= 8; i += 1) {
      await requestToken(vault, { clientId: `cli_${String(i).padStart(16, 'v')}`, clientSecret: 'guess' }, grant).set('X-Forwarded-For', `2a00:1450:4001:81a::${i}`).expect(401);
    }
    const innocent = await registerClient(vault);
    await requestToken(vault, innocent, grant).set('X-Forwarded-For', '2a00:1450:4001:81a:ffff:ffff:ffff:ffff').expect(429);
    await requestToken(vault, innocent, grant).set('X-Forwarded-For', '2a00:1450:4001:81b::1').expect(200);
  });

  it('counts a private-network IPv6 address alone: one pod failing does not throttle its neighbours', async () => {
    for (let i = 1; i <= 8; i += 1) {
      await requestToken(vault, { clientId: `cli_${String(i).padStart(16, 'u')}`, clientSecret: 'guess' }, grant).set('X-Forwarded-For', 'fd00:10:244:1::5').expect(401);
    }
    const neighbour = await registerClient(vault);
    await requestToken(vault, neighbour, grant).set('X-Forwarded-For', 'fd00:10:244:1::5').expect(429);
    await requestToken(vault, neighbour, grant).set('X-Forwarded-For', 'fd00:10:244:1::6').expect(200);
  });

  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2a00:1450:4001:81a::1', '2a00:1450:4001:81a::/64'],
    ['2a00:1450:4001:081a:ffff:0:0:1', '2a00:1450:4001:81a::/64'],
    ['fd00:10:244:1::5', 'fd00:10:244:1:0:0:0:5'],
    ['fe80::1', 'fe80:0:0:0:0:0:0:1'],
    ['::1', '0:0:0:0:0:0:0:1'],
  ])('takes %s as the source %s', (address, source) => {
    expect(sourceOf(address)).toBe(source);
  });

  it('lets a client id in again when its window has passed', async () => {
    const client = await registerClient(vault);
    for (let i = 0; i < 3; i += 1) await requestToken(vault, wrong(client), grant).expect(401);
    await requestToken(vault, client, grant).expect(429);
    await vault.vault.db('auth_failures').update({ expire: Date.now() - 1 });
    await requestToken(vault, client, grant).expect(200);
  });

  it('throttles a source address that tries many client ids', async () => {
    for (let i = 0; i < 8; i += 1) {
      await requestToken(vault, { clientId: `cli_${String(i).padStart(16, 'x')}`, clientSecret: 'guess' }, grant).expect(401);
    }
    const innocent = await registerClient(vault);
    const res = await requestToken(vault, innocent, grant).expect(429);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('counts failures across instances sharing the database', async () => {
    const client = await registerClient(vault);
    const second = await startSecondInstance(vault);
    try {
      await requestToken(vault, wrong(client), grant).expect(401);
      await requestToken(vault, wrong(client), grant).expect(401);
      const secondPost = () => second.call('post', '/oauth/token').type('form');
      await secondPost().send({ ...grant, client_id: client.clientId, client_secret: wrong(client).clientSecret }).expect(401);
      await secondPost().send({ ...grant, client_id: client.clientId, client_secret: client.clientSecret }).expect(429);
    } finally {
      await second.stop();
    }
  });

  it('purges counters that expired over an hour ago and keeps the others', async () => {
    const now = Date.now();
    const hour = 3_600_000;
    await vault.vault.db('auth_failures').insert([
      { key: 'client:long-gone', points: 3, expire: now - hour - 1 },
      { key: 'client:lapsed-lately', points: 3, expire: now - hour + 60_000 },
      { key: 'client:current', points: 2, expire: now + 60_000 },
    ]);
    await new AuthThrottle(vault.vault.db, vault.config.identity).purgeExpired(now);
    const left = await vault.vault.db('auth_failures').pluck('key');
    expect(left.sort()).toEqual(['client:current', 'client:lapsed-lately']);
  });

  it('does not count successful authentications', async () => {
    const client = await registerClient(vault);
    for (let i = 0; i < 5; i += 1) await requestToken(vault, client, grant).expect(200);
  });
});

describe('an authentication attempt waiting for room under the limit', () => {
  beforeEach(() => vault.vault.db('auth_failures').delete());

  // One failure allowed per client id, so a second attempt must wait for the first to end.
  const throttle = (bounds = { maxWaitMs: 5_000, maxWaiting: 2 }) =>
    new AuthThrottle(vault.vault.db, { ...vault.config.identity, authFailuresPerClient: 1 }, bounds);
  const settledWithin = async (admitting: Promise<unknown>, ms: number) =>
    Promise.race([admitting.then(() => true, () => true), new Promise((resolve) => setTimeout(() => resolve(false), ms))]);

  it('is let in when the attempt ahead of it succeeds', async () => {
    const gate = throttle();
    const ahead = await gate.admit('cli_waitsforsuccess', '192.0.2.10');
    const waiting = gate.admit('cli_waitsforsuccess', '192.0.2.10');
    expect(await settledWithin(waiting, 100)).toBe(false);
    ahead.settled();
    await expect(waiting).resolves.toHaveProperty('failed');
  });

  it('is refused with 429 when the attempt ahead of it fails and so reaches the limit', async () => {
    const gate = throttle();
    const ahead = await gate.admit('cli_waitsforfailure', '192.0.2.11');
    const waiting = gate.admit('cli_waitsforfailure', '192.0.2.11');
    waiting.catch(() => undefined);
    await ahead.failed();
    await expect(waiting).rejects.toMatchObject({ code: 'temporarily_unavailable', status: 429 });
  });

  it('is refused with 503 and Retry-After once it has waited its longest', async () => {
    const gate = throttle({ maxWaitMs: 150, maxWaiting: 2 });
    const ahead = await gate.admit('cli_waitstoolong', '192.0.2.12');
    await expect(gate.admit('cli_waitstoolong', '192.0.2.12')).rejects.toMatchObject({
      code: 'temporarily_unavailable',
      status: 503,
      headers: { 'Retry-After': '1' },
    });
    // Nothing was counted for it: the attempt ahead, once ended, leaves the client id its allowance.
    ahead.settled();
    (await gate.admit('cli_waitstoolong', '192.0.2.12')).settled();
  });

  it('is refused with 503 at once when as many attempts already wait on the instance as it allows', async () => {
    // Waits far longer than the test may run: only the cap can answer the third at once.
    const gate = throttle({ maxWaitMs: 60_000, maxWaiting: 2 });
    const ahead = await Promise.all(['cli_crowdone', 'cli_crowdtwo'].map((id) => gate.admit(id, '192.0.2.13')));
    const waiters = ['cli_crowdone', 'cli_crowdtwo'].map((id) => gate.admit(id, '192.0.2.13'));
    while (gate.attemptsWaiting < 2) await new Promise((resolve) => setTimeout(resolve, 10));

    await expect(gate.admit('cli_crowdone', '192.0.2.13')).rejects.toMatchObject({ status: 503 });
    // A client id with room is not made to wait, so the cap does not touch it.
    (await gate.admit('cli_crowdthree', '192.0.2.13')).settled();

    for (const attempt of ahead) attempt.settled();
    for (const admitted of await Promise.all(waiters)) admitted.settled();
  });
});
