import { startTestVault, type TestVault } from '../support/test-vault';
import { accessToken, basic, registerAdmin, startSecondInstance, type Credentials } from './support/identity-helpers';

let vault: TestVault;
let admin: Credentials;
beforeAll(async () => {
  vault = await startTestVault();
  admin = await registerAdmin(vault);
});
afterAll(() => vault.stop());

const revoke = (c: Credentials, token: string) => vault.post('/oauth/revoke').set('Authorization', basic(c)).type('form').send({ token, token_type_hint: 'access_token' });

describe('POST /oauth/revoke', () => {
  it('revokes a token so the next request with it is refused', async () => {
    const token = await accessToken(vault, admin, { scope: 'admin:clients' });
    await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(200);
    await revoke(admin, token).expect(200);
    const res = await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.body.code).toBe('invalid_token');
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('takes effect on every instance sharing the database, including one that cached the token', async () => {
    const second = await startSecondInstance(vault);
    try {
      const token = await accessToken(vault, admin, { scope: 'admin:clients' });
      await second.call('get', '/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(200);
      await revoke(admin, token).expect(200);
      await second.call('get', '/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(401);
    } finally {
      await second.stop();
    }
  });

  it('answers 200 for a token that is not valid, as RFC 7009 asks', async () => {
    await revoke(admin, 'not-a-token').expect(200);
  });

  it('answers 200 when the same token is revoked twice', async () => {
    const token = await accessToken(vault, admin, { scope: 'admin:clients' });
    await revoke(admin, token).expect(200);
    await revoke(admin, token).expect(200);
  });

  it('refuses to revoke the token of another client with unauthorized_client, and leaves it valid', async () => {
    const other = await registerAdmin(vault);
    const token = await accessToken(vault, other, { scope: 'admin:clients' });
    const res = await revoke(admin, token).expect(400);
    expect(res.body.error).toBe('unauthorized_client');
    await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(200);
  });

  it('requires client authentication (invalid_client) and a token (invalid_request)', async () => {
    const res = await vault.post('/oauth/revoke').type('form').send({ token: 'x' }).expect(401);
    expect(res.body.error).toBe('invalid_client');
    expect((await vault.post('/oauth/revoke').set('Authorization', basic(admin)).type('form').send({}).expect(400)).body.error).toBe('invalid_request');
  });
});
