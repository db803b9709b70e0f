import request from 'supertest';
import { startTestVault, type TestVault } from '../support/test-vault';
import { registerClient, requestToken, type Credentials } from './support/identity-helpers';

const grant = { grant_type: 'client_credentials', scope: 'payment_methods:read', purpose: 'billing' };

describe('a flood of token requests', () => {
  let vault: TestVault;
  let billing: Credentials;
  beforeAll(async () => {
    vault = await startTestVault({ PDVAULT_ARGON2_CONCURRENCY: '2' });
    billing = await registerClient(vault);
  });
  afterAll(() => vault.stop());

  it('leaves /healthz answering while 50 token requests wait for argon2, and serves them all', async () => {
    const order: string[] = [];
    const tokens = Array.from({ length: 50 }, () => requestToken(vault, billing, grant).then((res) => {
      order.push('token');
      return res.status;
    }));
    const health = vault.get('/healthz').expect(200).then(() => order.push('healthz'));
    const statuses = await Promise.all(tokens);
    await health;
    expect(statuses.every((s) => s === 200)).toBe(true);
    // Argon2 is bounded to two at a time, so /healthz cannot have waited for all fifty.
    expect(order.indexOf('healthz')).toBeLessThan(order.length - 1);
  });

  it('refuses beyond the argon2 queue with 503 temporarily_unavailable and Retry-After, instead of queueing without bound', async () => {
    const tight = await startTestVault({ PDVAULT_ARGON2_CONCURRENCY: '1', PDVAULT_ARGON2_QUEUE_LIMIT: '2' });
    try {
      const client = await registerClient(tight);
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          request(tight.url).post('/oauth/token').ca(tight.ca).auth(client.clientId, client.clientSecret).type('form').send(grant),
        ),
      );
      const busy = responses.filter((res) => res.status === 503);
      expect(busy.length).toBeGreaterThan(0);
      expect(busy[0]!.body.error).toBe('temporarily_unavailable');
      expect(busy[0]!.headers['retry-after']).toBe('1');
      expect(responses.filter((res) => res.status === 200).length).toBeGreaterThanOrEqual(3);
    } finally {
      await tight.stop();
    }
  });
});
