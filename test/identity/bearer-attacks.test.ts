import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { REQUIRED_CLAIMS } from '../../src/identity/access-token';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accessToken, decode, registerAdmin, registerClient, type Credentials } from './support/identity-helpers';

let vault: TestVault;
let admin: Credentials;
let adminToken: string;
let trap: { server: http.Server; url: string; hits: number };

beforeAll(async () => {
  vault = await startTestVault();
  admin = await registerAdmin(vault);
  adminToken = await accessToken(vault, admin, { scope: 'admin:clients' });
  trap = await startTrap();
});
afterAll(async () => {
  await new Promise((resolve) => trap.server.close(resolve));
  await vault.stop();
});

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const withBearer = (token: string) => vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`);

async function expectInvalidToken(token: string): Promise<void> {
  const res = await withBearer(token).expect(401);
  expect(res.body.code).toBe('invalid_token');
  expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="pdvault", error="invalid_token"/);
}

/** The claims of a genuine admin token, to be tampered with and signed by the vault's own key. */
function genuineClaims(): Record<string, unknown> {
  return { ...decode(adminToken).claims };
}

async function signWithVaultKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const key = await vault.vault.identity.signingKeys.activeKey();
  return new SignJWT(claims as never).setProtectedHeader({ alg: key.algorithm, typ: 'at+jwt', kid: key.kid, ...header } as never).sign(key.privateKey);
}

async function signWithStrangerKey(header: Record<string, unknown>, claims = genuineClaims()): Promise<{ token: string; jwk: crypto.JsonWebKey }> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const token = await new SignJWT(claims as never).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header } as never).sign(privateKey);
  return { token, jwk: publicKey.export({ format: 'jwk' }) };
}

describe('bearer token verification on /v1', () => {
  it('accepts a genuine token with the scope the route requires', async () => {
    await withBearer(adminToken).expect(200);
  });

  it('accepts typ application/at+jwt as well as at+jwt', async () => {
    await withBearer(await signWithVaultKey(genuineClaims(), { typ: 'application/at+jwt' })).expect(200);
  });

  it('challenges a request without credentials with no error attribute', async () => {
    const res = await vault.get('/v1/admin/clients').expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="pdvault"');
    expect(res.body.code).toBe('unauthenticated');
  });

  it('challenges client credentials sent to /v1 like no credentials', async () => {
    const res = await vault.get('/v1/admin/clients').set('Authorization', 'Basic YTpi').expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="pdvault"');
  });

  it('requires a token on every /v1 route the vault serves', async () => {
    const v1 = vault.vault.routes.entries.filter((entry) => entry.path.startsWith('/v1/'));
    expect(v1.length).toBeGreaterThan(0);
    for (const { path, methods } of v1) {
      const concrete = path.replace(/:[a-z_]+/g, 'cli_AAAAAAAAAAAAAAAA');
      for (const method of methods) {
        const res = await vault[method](concrete).expect(401);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="pdvault"');
      }
    }
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg %s', async (alg) => {
    const [, payload] = adminToken.split('.');
    const header = { ...decode(adminToken).header, alg };
    await expectInvalidToken(`${b64(header)}.${payload}.`);
    await expectInvalidToken(`${b64(header)}.${payload}.${b64('signature')}`);
  });

  it('refuses HS256 signed with the vault public key (key confusion)', async () => {
    const { header } = decode(adminToken);
    const jwks = (await vault.get('/.well-known/jwks.json').expect(200)).body as { keys: Array<Record<string, string>> };
    const publicJwk = jwks.keys.find((k) => k.kid === header.kid)!;
    const publicPem = crypto.createPublicKey({ key: publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [Buffer.from(String(publicPem)), Buffer.from(JSON.stringify(publicJwk))]) {
      const signingInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })}.${adminToken.split('.')[1]}`;
      const mac = crypto.createHmac('sha256', secret).update(signingInput).digest('base64url');
      await expectInvalidToken(`${signingInput}.${mac}`);
    }
  });

  it('refuses a valid signature by an unknown key carrying a real kid', async () => {
    const { token } = await signWithStrangerKey({ kid: decode(adminToken).header.kid });
    await expectInvalidToken(token);
  });

  it.each([
    ['path traversal', '../../../../etc/passwd'],
    ['SQL', "sk_' OR '1'='1"],
    ['a number', 42],
    ['an object', { $ne: null }],
    ['an empty string', ''],
    ['a very long string', 'sk_' + 'A'.repeat(2000)],
    ['a command', '|cat /etc/passwd'],
  ])('refuses a kid that is %s', async (_label, kid) => {
    const { token } = await signWithStrangerKey({ kid });
    await expectInvalidToken(token);
  });

  it('never follows jku, x5u or an embedded jwk, and refuses the token', async () => {
    const kid = decode(adminToken).header.kid;
    const jku = await signWithStrangerKey({ kid, jku: `${trap.url}/jwks.json` });
    const x5u = await signWithStrangerKey({ kid, x5u: `${trap.url}/cert.pem` });
    const embedded = await signWithStrangerKey({ kid });
    const withJwk = await signWithStrangerKey({ kid, jwk: embedded.jwk });
    for (const token of [jku.token, x5u.token, withJwk.token]) await expectInvalidToken(token);
    // Even the vault's own signature does not make these header parameters acceptable.
    await expectInvalidToken(await signWithVaultKey(genuineClaims(), { jku: `${trap.url}/jwks.json` }));
    expect(trap.hits).toBe(0);
  });

  it.each([['JWT'], ['application/jwt'], ['at+JWT+extra'], [undefined]])('refuses typ %s', async (typ) => {
    await expectInvalidToken(await signWithVaultKey(genuineClaims(), { typ }));
  });

  it.each([
    ['a wrong issuer', { iss: 'https://attacker.example' }],
    ['a wrong audience', { aud: 'urn:someone-else' }],
    ['an audience list without the vault', { aud: ['urn:a', 'urn:b'] }],
  ])('refuses %s', async (_label, change) => {
    await expectInvalidToken(await signWithVaultKey({ ...genuineClaims(), ...change }));
  });

  it.each([...REQUIRED_CLAIMS])('refuses a token without %s', async (claim) => {
    const claims = genuineClaims();
    delete claims[claim];
    await expectInvalidToken(await signWithVaultKey(claims));
  });

  it('refuses a data token without its purpose', async () => {
    const billing = await registerClient(vault);
    const claims = decode(await accessToken(vault, billing)).claims as Record<string, unknown>;
    delete claims.purpose;
    await expectInvalidToken(await signWithVaultKey(claims));
  });

  it.each([
    ['exp as a string', { exp: String(Math.floor(Date.now() / 1000) + 100) }],
    ['iat as a string', { iat: String(Math.floor(Date.now() / 1000)) }],
    ['nbf as a string', { nbf: 'now' }],
    ['scope as a list', { scope: ['admin:clients'] }],
    ['sub as a number', { sub: 12 }],
    ['client_id not the subject', { client_id: 'cli_AAAAAAAAAAAAAAAA' }],
    ['aud as a number', { aud: 7 }],
    ['iss as an object', { iss: { url: 'x' } }],
    ['jti as a number', { jti: 1 }],
    ['purpose as a list', { purpose: ['billing'] }],
    ['an unknown scope', { scope: 'admin:everything' }],
  ])('refuses a claim of the wrong type: %s', async (_label, change) => {
    await expectInvalidToken(await signWithVaultKey({ ...genuineClaims(), ...change }));
  });

  it('refuses an expired token, a token not yet valid and one issued in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(await signWithVaultKey({ ...genuineClaims(), iat: now - 400, exp: now - 100 }));
    await expectInvalidToken(await signWithVaultKey({ ...genuineClaims(), nbf: now + 600 }));
    await expectInvalidToken(await signWithVaultKey({ ...genuineClaims(), iat: now + 3600, exp: now + 3900 }));
  });

  it('tells a caller whose genuine token expired so, to fetch a new one; a forged expired token is only invalid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await withBearer(await signWithVaultKey({ ...genuineClaims(), iat: now - 400, exp: now - 100 })).expect(401);
    expect(expired.headers['www-authenticate']).toBe('Bearer realm="pdvault", error="invalid_token", error_description="The access token has expired"');
    // The vault's key id on a signature by another key: the expiry of a token nobody issued is nobody's business.
    const { kid } = await vault.vault.identity.signingKeys.activeKey();
    const { token: forged } = await signWithStrangerKey({ kid }, { ...genuineClaims(), iat: now - 400, exp: now - 100 });
    const refused = await withBearer(forged).expect(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="pdvault", error="invalid_token", error_description="The access token is invalid"');
  });

  it('refuses a token whose lifetime is longer than the vault ever issues', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(await signWithVaultKey({ ...genuineClaims(), iat: now, exp: now + 86_400 }));
  });

  it('refuses a payload altered after signing', async () => {
    const [header, , signature] = adminToken.split('.');
    const escalated = { ...genuineClaims(), scope: 'admin:clients admin:keys' };
    await expectInvalidToken(`${header}.${b64(escalated)}.${signature}`);
  });

  it('refuses the token of a disabled client on the very next request', async () => {
    const other = await registerAdmin(vault);
    const token = await accessToken(vault, other, { scope: 'admin:clients' });
    await withBearer(token).expect(200);
    await vault.vault.identity.clients.disable(other.clientId, { via: 'cli' });
    await expectInvalidToken(token);
  });

  it('refuses the token of a client whose contract has ended', async () => {
    const contractor = await registerClient(vault, { kind: 'contractor', scopes: ['subjects:read'], purposes: ['shipping'], expiresAt: new Date(Date.now() + 60_000) });
    const token = await accessToken(vault, contractor, { scope: 'subjects:read', purpose: 'shipping' });
    await vault.vault.db('clients').where({ id: contractor.clientId }).update({ expires_at: new Date(Date.now() - 1000) });
    const res = await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('answers a token without the route scope with 403 insufficient_scope (no scope escalation)', async () => {
    const billing = await registerClient(vault);
    const token = await accessToken(vault, billing, { scope: 'payment_methods:read admin:clients', purpose: 'billing' });
    expect(decode(token).claims.scope).toBe('payment_methods:read');
    const res = await withBearer(token).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="pdvault", error="insufficient_scope", scope="admin:clients"');
  });

  it('refuses a 20 KB bearer token as invalid_token when headers that large are allowed', async () => {
    const large = await startTestVault({ PDVAULT_MAX_HEADER_BYTES: '32768' });
    try {
      const res = await large.get('/v1/admin/clients').set('Authorization', `Bearer ${'A'.repeat(20 * 1024)}`).expect(401);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    } finally {
      await large.stop();
    }
  });

  it('refuses a 20 KB bearer token with 431 before the vault reads it, by default', async () => {
    const request = (await import('supertest')).default;
    const res = await request(vault.url).get('/v1/admin/clients').ca(vault.ca).set('Authorization', `Bearer ${'A'.repeat(20 * 1024)}`).ok(() => true);
    expect(res.status).toBe(431);
  });

  it('refuses garbage in the Authorization header', async () => {
    for (const value of ['Bearer', 'Bearer a b', 'Bearer ' + b64('{}'), 'Bearer a.b.c', 'Bearer ....']) {
      const res = await vault.get('/v1/admin/clients').set('Authorization', value).expect(401);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });
});

async function startTrap(): Promise<{ server: http.Server; url: string; hits: number }> {
  const state = { hits: 0 } as { server: http.Server; url: string; hits: number };
  state.server = http.createServer((_req, res) => {
    state.hits += 1;
    res.end('{}');
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}
