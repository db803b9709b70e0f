import { basic, registerClient, type Credentials } from '../identity/support/identity-helpers';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, type Caller } from '../vault/support/data-callers';

let vault: TestVault;
let billing: Credentials;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  billing = await registerClient(vault);
  account = await accountService(vault);
});
afterAll(() => vault.stop());

describe('a path is routed only as it is spelled in openapi.yaml', () => {
  it('answers POST /OAUTH/TOKEN with a JSON body with 404 not_found and issues no token', async () => {
    const res = await vault
      .post('/OAUTH/TOKEN')
      .set('Authorization', basic(billing))
      .send({ grant_type: 'client_credentials', scope: 'payment_methods:read', purpose: 'billing' })
      .expect(404);
    expect(res.body.code).toBe('not_found');
    expect(res.body.access_token).toBeUndefined();
  });

  it.each(['/HEALTHZ', '/.WELL-KNOWN/jwks.json', '/OpenAPI.yaml'])('answers GET %s with 404 not_found', async (path) => {
    const res = await vault.get(path).expect(404);
    expect(res.body.code).toBe('not_found');
  });

  it('answers a data route spelled in capitals with 404 not_found, not the subject', async () => {
    const { id } = await createSubject(vault, account);
    await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
    const res = await vault.get(`/V1/Subjects/${id}`).set('Authorization', auth(account)).expect(404);
    expect(res.body.code).toBe('not_found');
  });

  it('answers a path with a trailing slash, which openapi.yaml does not spell, with 404 and serves nothing', async () => {
    const { id } = await createSubject(vault, account);
    const res = await vault.get(`/v1/subjects/${id}/`).set('Authorization', auth(account)).expect(404);
    expect(res.body.code).toBe('not_found');
    expect(res.body.id).toBeUndefined();
    expect((await vault.get('/healthz/').expect(404)).body.code).toBe('not_found');
  });

  it('answers a data route spelled in capitals with 404 before any token is asked for', async () => {
    expect((await vault.get('/V1/SUBJECTS/sub_AAAAAAAAAAAAAAAA/EMAIL').expect(404)).body.code).toBe('not_found');
    expect((await vault.post('/V1/SUBJECTS').send({ name: 'Jo Example' }).expect(404)).body.code).toBe('not_found');
  });
});
