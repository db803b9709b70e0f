import { adminCaller, bearer, callerWith } from '../policy/support/principals';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject } from './support/data-callers';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
  // A policy that lets analytics, which names subjects by pseudonym, search by a masked email.
  const admin = await adminCaller(vault, ['admin:policy']);
  const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
  policy.purposes.analytics.fields = { ...policy.purposes.analytics.fields, email: 'masked' };
  await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send(policy).expect(200);
});
afterAll(() => vault.stop());

describe('search by a purpose that names subjects by pseudonym', () => {
  it('answers with the pseudonym the purpose reads the subject under, never the subject id', async () => {
    const { id } = await createSubject(vault, await accountService(vault), { email: 'pseudo@example.com' });
    const analytics = await callerWith(vault, { scopes: ['subjects:search', 'subjects:read'], purposes: ['analytics'] }, 'subjects:search subjects:read', 'analytics');

    const found = await vault.post('/v1/subjects/search').set('Authorization', auth(analytics)).send({ email: 'pseudo@example.com' }).expect(200);
    const read = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(analytics)).expect(200);
    expect(read.body.pseudonym).toMatch(/^psn_/);
    expect(found.body).toEqual({ subjects: [{ pseudonym: read.body.pseudonym }] });
    expect(found.text).not.toContain(id);
  });
});
