import { startTestVault, type TestVault } from '../support/test-vault';
import {
  accessToken,
  argon2Verifications,
  basic,
  decode,
  registerClient,
  requestToken,
  type Credentials,
} from './support/identity-helpers';

let vault: TestVault;
let billing: Credentials;
beforeAll(async () => {
  vault = await startTestVault();
  billing = await registerClient(vault);
});
afterAll(() => vault.stop());

const grant = { grant_type: 'client_credentials', scope: 'payment_methods:read', purpose: 'billing' };

describe('POST /oauth/token', () => {
  it('issues an RFC 9068 access token to a client authenticating with client_secret_basic', async () => {
    const res = await requestToken(vault, billing, grant).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300, scope: 'payment_methods:read' });
    expect(res.body.refresh_token).toBeUndefined();
    const { header, claims } = decode(res.body.access_token);
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.stringMatching(/^sk_/) });
    expect(claims).toEqual({
      iss: vault.url,
      aud: 'urn:pdvault:api',
      sub: billing.clientId,
      client_id: billing.clientId,
      scope: 'payment_methods:read',
      purpose: 'billing',
      jti: expect.stringMatching(/^at_/),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
    expect(claims.exp! - claims.iat!).toBe(300);
  });

  it('issues a token to a client authenticating with client_secret_post', async () => {
    await vault
      .post('/oauth/token')
      .type('form')
      .send({ ...grant, client_id: billing.clientId, client_secret: billing.clientSecret })
      .expect(200);
  });

  it('refuses a client that uses both authentication methods at once with invalid_request', async () => {
    const res = await vault
      .post('/oauth/token')
      .set('Authorization', basic(billing))
      .type('form')
      .send({ ...grant, client_id: billing.clientId, client_secret: billing.clientSecret })
      .expect(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it.each(['/oauth/token', '/oauth/revoke'])('refuses parameters in the URL query at %s with invalid_request, issuing and revoking nothing', async (path) => {
    const issued = Number((await vault.vault.db('audit_events').where({ action: 'token.issue', outcome: 'allowed' }).count('* as n').first())!.n);
    const res = await vault
      .post(`${path}?client_secret=${encodeURIComponent(billing.clientSecret)}`)
      .set('Authorization', basic(billing))
      .type('form')
      .send(path === '/oauth/token' ? grant : { token: 'not-a-token' })
      .expect(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'Send the parameters in the request body, not in the URL query' });
    expect(Number((await vault.vault.db('audit_events').where({ action: 'token.issue', outcome: 'allowed' }).count('* as n').first())!.n)).toBe(issued);
  });

  it('refuses a wrong secret with 401 invalid_client and a WWW-Authenticate challenge', async () => {
    const res = await requestToken(vault, { ...billing, clientSecret: billing.clientSecret.slice(0, -2) + 'xx' }, grant).expect(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="pdvault"/);
  });

  it('refuses a request without client authentication with invalid_client', async () => {
    const res = await vault.post('/oauth/token').type('form').send(grant).expect(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('does the same argon2 work to refuse an unknown client id as a wrong secret', async () => {
    const before = await argon2Verifications(vault);
    await requestToken(vault, { clientId: 'cli_AAAAAAAAAAAAAAAA', clientSecret: billing.clientSecret }, grant).expect(401);
    const forUnknown = (await argon2Verifications(vault)) - before;
    await requestToken(vault, { clientId: 'not even an id', clientSecret: 'guess' }, grant).expect(401);
    const forMalformed = (await argon2Verifications(vault)) - before - forUnknown;
    const beforeWrong = await argon2Verifications(vault);
    await requestToken(vault, { ...billing, clientSecret: billing.clientSecret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }, grant).expect(401);
    const forWrongSecret = (await argon2Verifications(vault)) - beforeWrong;
    expect([forUnknown, forMalformed, forWrongSecret]).toEqual([1, 1, 1]);
  });

  it('refuses a grant type other than client_credentials with unsupported_grant_type', async () => {
    const res = await requestToken(vault, billing, { ...grant, grant_type: 'password' }).expect(400);
    expect(res.body.error).toBe('unsupported_grant_type');
  });

  it('refuses a request without grant_type with invalid_request', async () => {
    const res = await requestToken(vault, billing, { scope: grant.scope, purpose: grant.purpose }).expect(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('refuses a repeated parameter with invalid_request', async () => {
    const res = await vault
      .post('/oauth/token')
      .set('Authorization', basic(billing))
      .type('form')
      .send('grant_type=client_credentials&scope=payment_methods:read&purpose=billing&purpose=payment_processing')
      .expect(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('narrows the token to the requested scopes the client is granted', async () => {
    const res = await requestToken(vault, billing, { ...grant, scope: 'payment_methods:read subjects:write' }).expect(200);
    expect(res.body.scope).toBe('payment_methods:read');
    expect(decode(res.body.access_token).claims.scope).toBe('payment_methods:read');
  });

  it('refuses scopes none of which the client is granted with invalid_scope', async () => {
    const res = await requestToken(vault, billing, { ...grant, scope: 'admin:clients' }).expect(400);
    expect(res.body.error).toBe('invalid_scope');
  });

  it('refuses an unknown scope and a missing scope with invalid_scope', async () => {
    expect((await requestToken(vault, billing, { ...grant, scope: 'everything' }).expect(400)).body.error).toBe('invalid_scope');
    expect((await requestToken(vault, billing, { grant_type: 'client_credentials', purpose: 'billing' }).expect(400)).body.error).toBe('invalid_scope');
  });

  it('refuses a data scope without a purpose, or with two, with invalid_request', async () => {
    expect((await requestToken(vault, billing, { grant_type: 'client_credentials', scope: 'payment_methods:read' }).expect(400)).body.error).toBe('invalid_request');
    expect((await requestToken(vault, billing, { ...grant, purpose: 'billing payment_processing' }).expect(400)).body.error).toBe('invalid_request');
  });

  it('refuses a purpose the vault does not know with invalid_scope, as it refuses an unknown scope', async () => {
    const res = await requestToken(vault, billing, { ...grant, purpose: 'nonexistent' }).expect(400);
    expect(res.body).toEqual({ error: 'invalid_scope', error_description: 'The purpose is not one the vault knows' });
  });

  it('refuses a purpose the client is not granted with invalid_scope', async () => {
    const res = await requestToken(vault, billing, { ...grant, purpose: 'newsletter' }).expect(400);
    expect(res.body.error).toBe('invalid_scope');
  });

  it('issues admin tokens without a purpose and refuses a purpose on them', async () => {
    const admin = await registerClient(vault, { scopes: ['admin:clients'], purposes: [] });
    const token = await accessToken(vault, admin, { scope: 'admin:clients' });
    expect(decode(token).claims.purpose).toBeUndefined();
    const res = await requestToken(vault, admin, { grant_type: 'client_credentials', scope: 'admin:clients', purpose: 'billing' }).expect(400);
    expect(res.body.error).toBe('invalid_request');
    // A data scope it is not granted, with a purpose: the grant is what is wrong.
    const ungranted = await requestToken(vault, admin, { grant_type: 'client_credentials', scope: 'admin:clients subjects:read', purpose: 'shipping' }).expect(400);
    expect(ungranted.body).toMatchObject({ error: 'invalid_scope', error_description: 'The client is granted none of the requested data scopes' });
  });

  it('refuses a disabled client with invalid_client', async () => {
    const client = await registerClient(vault);
    await vault.vault.identity.clients.disable(client.clientId, { via: 'cli' });
    expect((await requestToken(vault, client, grant).expect(401)).body.error).toBe('invalid_client');
  });

  it('refuses a contractor whose contract has ended with invalid_client', async () => {
    const client = await registerClient(vault, { kind: 'contractor', expiresAt: new Date(Date.now() + 60_000) });
    await vault.vault.db('clients').where({ id: client.clientId }).update({ expires_at: new Date(Date.now() - 1000) });
    expect((await requestToken(vault, client, grant).expect(401)).body.error).toBe('invalid_client');
  });

  it('refuses a contractor whose contract ends within the current second with invalid_client, never a token of no lifetime', async () => {
    const client = await registerClient(vault, { kind: 'contractor', expiresAt: new Date(Date.now() + 60_000) });
    // Early in a second, so the request is answered within it.
    while (Date.now() % 1000 > 200) await new Promise((resolve) => setTimeout(resolve, 20));
    await vault.vault.db('clients').where({ id: client.clientId }).update({ expires_at: new Date(Math.floor(Date.now() / 1000) * 1000 + 999) });
    const res = await requestToken(vault, client, grant);
    expect([res.status, res.body.error]).toEqual([401, 'invalid_client']);
  });

  it('never lets a contractor token outlive the contract', async () => {
    const client = await registerClient(vault, { kind: 'contractor', expiresAt: new Date(Date.now() + 90_000) });
    const res = await requestToken(vault, client, grant).expect(200);
    expect(res.body.expires_in).toBeLessThanOrEqual(90);
  });

  it('keeps the previous secret valid for the overlap after a rotation, and the new one works', async () => {
    const client = await registerClient(vault);
    const rotated = await vault.vault.identity.clients.rotateSecret(client.clientId, { via: 'cli' });
    await requestToken(vault, client, grant).expect(200);
    await requestToken(vault, { clientId: client.clientId, clientSecret: rotated.client_secret }, grant).expect(200);
    await vault.vault.db('clients').where({ id: client.clientId }).update({ previous_secret_expires_at: new Date(Date.now() - 1000) });
    await requestToken(vault, client, grant).expect(401);
  });

  it('answers a JSON body at the token endpoint (which is form-encoded) as an RFC 6749 invalid_request, not a problem', async () => {
    const res = await vault.post('/oauth/token').set('Authorization', basic(billing)).send({ grant_type: 'client_credentials' }).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The request body must be application/x-www-form-urlencoded' });
    const large = await vault.post('/oauth/token').set('Authorization', basic(billing)).type('form').send(`grant_type=client_credentials&scope=${'x'.repeat(70_000)}`).expect(400);
    expect(large.body).toEqual({ error: 'invalid_request', error_description: 'The request body is larger than the vault accepts' });
    // A path that only resembles the endpoint is no endpoint: 404, as a problem.
    const elsewhere = await vault.post('/oauth/token/').set('Authorization', basic(billing)).type('form').send({ grant_type: 'client_credentials' }).expect(404);
    expect(elsewhere.body.code).toBe('not_found');
  });

  it('answers other methods with 405 and Allow', async () => {
    const res = await vault.get('/oauth/token').expect(405);
    expect(res.headers.allow).toBe('POST');
  });

  it('never writes a client secret or an access token to the log', async () => {
    const token = await accessToken(vault, billing);
    const logs = vault.logs.join('\n');
    expect(logs).not.toContain(billing.clientSecret);
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.split('.')[2]);
  });
});
