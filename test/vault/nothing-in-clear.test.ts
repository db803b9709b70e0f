import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, contractor, mailer } from './support/data-callers';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault({ PDVAULT_LOG_LEVEL: 'trace' });
});
afterAll(() => vault.stop());

const CANARIES = {
  email: 'canary.zq7@example.org',
  name: 'Canaryname Zqxvwy',
  phone: '+14155550199',
  line1: '77 Canarystreet Zqx',
  birth_date: '1971-07-13',
};

/** Every encoding the store or a log could plausibly hold a value in. */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [value, bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url'), encodeURIComponent(value), JSON.stringify(value).slice(1, -1)];
}

it('holds no personal value in clear in any table or log line, in any encoding', async () => {
  const account = await accountService(vault);
  const created = await vault
    .post('/v1/subjects')
    .set('Authorization', auth(account))
    .send({ email: CANARIES.email, name: CANARIES.name, phone: CANARIES.phone, birth_date: CANARIES.birth_date, postal_address: { line1: CANARIES.line1, city: 'Canarytown', country: 'US' } })
    .expect(201);
  const id = created.body.id;
  await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(await contractor(vault, 'customer_support'))).expect(200);
  await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(await mailer(vault, 'transactional_email'))).expect(200);
  await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: CANARIES.email }).expect(200);
  await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', created.headers.etag).send({ name: `${CANARIES.name} Jr` }).expect(200);

  const tables = (await vault.vault.db.raw("select tablename from pg_tables where schemaname = 'public'")).rows.map((r: { tablename: string }) => r.tablename);
  expect(tables).toEqual(expect.arrayContaining(['subjects', 'audit_events', 'idempotency_keys', 'consent_history']));
  const dumps: string[] = [];
  for (const table of tables) {
    // Each row as JSON text: bytea columns appear as \x-hex, so hex catches raw bytes too.
    const rows = (await vault.vault.db.raw(`select row_to_json(t)::text as line from "${table}" t`)).rows;
    dumps.push(...rows.map((r: { line: string }) => r.line));
  }
  const database = dumps.join('\n');
  const logs = vault.logs.join('\n');
  for (const value of Object.values(CANARIES)) {
    for (const encoded of encodings(value)) {
      expect(database).not.toContain(encoded);
      expect(logs).not.toContain(encoded);
    }
  }
  // The birth date is the one canary a timestamp column could hold by chance; make sure the check saw rows at all.
  expect(dumps.length).toBeGreaterThan(10);
});
