import { startTestVault, type TestVault } from '../support/test-vault';
import { adminCaller, bearer, dataCaller, type Caller } from '../policy/support/principals';
import { accountService, createSubject } from '../vault/support/data-callers';
import { basic } from '../identity/support/identity-helpers';

/**
 * Canary values written through every API this issue adds (and the token endpoint), then the
 * whole audit table is dumped as text and searched for them. Data routes (issue 6) add their
 * own canaries to this list when they land.
 */
const CANARIES = ['canary.jane@example.com', 'Jane Canary', '+44 20 7946 0958', 'Canary Wharf', '4111111111111111', 'Court order canary'];

let vault: TestVault;
let admin: Caller;
let second: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  admin = await adminCaller(vault, ['admin:policy', 'admin:clients']);
  second = await adminCaller(vault, ['admin:policy']);
});
afterAll(() => vault.stop());

it('never writes a personal value, secret or token into the audit trail', async () => {
  const disclosure = await dataCaller(vault, 'subjects:read', 'legal_disclosure');
  // Approvals are given only for a subject that exists: one with values of its own.
  const { id: subject } = await createSubject(vault, await accountService(vault), { email: 'approved.subject@example.com' });

  // The token endpoint, with a client id and secret that are personal values.
  await vault.post('/oauth/token').set('Authorization', basic({ clientId: CANARIES[0]!, clientSecret: CANARIES[4]! })).type('form').send({ grant_type: 'client_credentials', scope: 'subjects:read' });
  // A policy whose description and unknown purpose carry values.
  const { policy: current, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
  await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send({ purposes: { [CANARIES[1]!]: { fields: {} } } }).expect(400);
  current.purposes.shipping.description = `${CANARIES[3]} ${CANARIES[2]}`;
  await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send(current).expect(200);
  // An approval whose justification and subject id carry values.
  await vault.post('/v1/admin/approvals').set(bearer(admin)).send({ subject_id: CANARIES[0], client_id: disclosure.principal.clientId, justification: CANARIES[5], expires_at: new Date(Date.now() + 3600_000).toISOString() }).expect(400);
  const created = await vault
    .post('/v1/admin/approvals')
    .set(bearer(admin))
    .send({ subject_id: subject, client_id: disclosure.principal.clientId, justification: `${CANARIES[5]} for ${CANARIES[1]}`, expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .expect(201);
  await vault.post(`/v1/admin/approvals/${created.body.approval_id}/approve`).set(bearer(second)).expect(200);
  // Reads of the trail whose filters carry values.
  await vault.get(`/v1/admin/audit?client_id=${encodeURIComponent(CANARIES[0]!)}`).set(bearer(admin)).expect(403);
  await vault.get(`/v1/subjects/${encodeURIComponent(CANARIES[0]!)}/access-log`).set(bearer(admin)).expect(403);

  const { rows } = await vault.vault.db.raw('select * from audit_events');
  expect(rows.length).toBeGreaterThan(5);
  const dump = JSON.stringify(rows);
  for (const canary of [...CANARIES, admin.token, second.token, disclosure.token, admin.credentials.clientSecret]) expect(dump).not.toContain(canary);
  for (const line of vault.logs) for (const canary of CANARIES) expect(line).not.toContain(canary);
});

it('keeps a card or phone number written in the form of an id out of the trail, wherever an id is asked for', async () => {
  const auditor = await adminCaller(vault, ['audit:read', 'admin:policy']);
  const account = await accountService(vault);
  const card = '4539773199462817';
  const phone = '442079467731';
  const disclosure = await dataCaller(vault, 'subjects:read', 'legal_disclosure');

  await vault.get(`/v1/admin/audit?subject_id=${card}&client_id=${phone}`).set(bearer(auditor)).expect(200);
  await vault.get(`/v1/admin/audit?subject_id=sub_${card}&client_id=cli_${card}`).set(bearer(auditor)).expect(200);
  await vault.get(`/v1/subjects/sub_${card}/access-log`).set(bearer(auditor)).expect(200);
  await vault.post('/v1/admin/approvals').set(bearer(auditor)).send({ subject_id: `sub_${card}`, client_id: disclosure.principal.clientId, justification: 'Court order 2026-118', expires_at: new Date(Date.now() + 3600_000).toISOString() }).expect(400);
  // Ids of the subject-id form (22 characters after the prefix) and of the client-id form (16).
  await vault.get(`/v1/subjects/sub_${card}zzzzzz`).set(bearer(account)).expect(404);
  await vault.get(`/v1/subjects/sub_${phone}-zzzzzzzzz`).set(bearer(account)).expect(404);
  await vault.post('/oauth/token').set('Authorization', basic({ clientId: `cli_${card}`, clientSecret: 'wrong' })).type('form').send({ grant_type: 'client_credentials', scope: 'subjects:read' }).expect(401);
  // An id asked for that holds no number is kept: a read of an erased or unknown subject is worth knowing.
  const unknown = 'sub_AAAAAAAAAAAAAAAAAAAAAA';
  await vault.get(`/v1/subjects/${unknown}`).set(bearer(account)).expect(404);

  const dump = JSON.stringify((await vault.vault.db.raw('select * from audit_events')).rows);
  expect(dump).not.toContain(card);
  expect(dump).not.toContain(phone);
  expect(dump).toContain(unknown);
});
