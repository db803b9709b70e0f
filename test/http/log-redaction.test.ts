import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault({ PDVAULT_LOG_LEVEL: 'trace' });
});
afterAll(() => vault.stop());

const CANARIES = {
  email: 'canary.person+vault@example.org',
  card: '4111111111111111',
  secret: 'cs_canary_9f8e7d6c5b4a',
  token: 'eyJhbGciOiJFUzI1NiJ9.canary-token.sig',
  phone: '+14155550123',
};

it('keeps canary values sent in URLs, headers and bodies out of every log line', async () => {
  await vault.post('/v1/subjects').set('Content-Type', 'application/json').send({ email: CANARIES.email, card: CANARIES.card });
  await vault.post('/v1/subjects').set('Content-Type', 'application/json').send(`{"email": "${CANARIES.email}", broken`);
  await vault.get(`/v1/subjects/search?email=${encodeURIComponent(CANARIES.email)}&phone=${encodeURIComponent(CANARIES.phone)}`);
  await vault.get('/healthz').set('Authorization', `Bearer ${CANARIES.token}`).set('Cookie', `s=${CANARIES.secret}`);
  await vault.post('/oauth/token').type('form').send({ client_id: 'x', client_secret: CANARIES.secret });
  await vault.get(`/v1/subjects/${encodeURIComponent(CANARIES.email)}`);
  await new Promise((resolve) => setTimeout(resolve, 50));

  const everything = vault.logs.join('\n');
  expect(vault.logs.length).toBeGreaterThan(5);
  for (const value of Object.values(CANARIES)) {
    expect(everything).not.toContain(value);
    expect(everything).not.toContain(encodeURIComponent(value));
  }
});
