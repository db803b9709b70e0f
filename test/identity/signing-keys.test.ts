import { decodeProtectedHeader } from 'jose';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accessToken, decode, registerAdmin, type Credentials } from './support/identity-helpers';

describe('signing keys and the JWKS', () => {
  let vault: TestVault;
  let admin: Credentials;
  beforeAll(async () => {
    vault = await startTestVault();
    admin = await registerAdmin(vault);
  });
  afterAll(() => vault.stop());

  it('publishes the active public key, and never a private member', async () => {
    const token = await accessToken(vault, admin, { scope: 'admin:clients' });
    const res = await vault.get('/.well-known/jwks.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
    expect(res.body.keys).toEqual([expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: decodeProtectedHeader(token).kid })]);
    expect(res.body.keys[0].d).toBeUndefined();
  });

  it('stores the private key only sealed under the key hierarchy', async () => {
    const [row] = await vault.vault.db('signing_keys').select('kid', 'sealed_private_key');
    const key = await vault.vault.identity.signingKeys.activeKey();
    const der = key.privateKey.export({ format: 'der', type: 'pkcs8' });
    expect(row.sealed_private_key.includes(der.subarray(-32))).toBe(false);
    const opened = await vault.vault.keys.openSecret('jwt_signing_key', row.kid, row.sealed_private_key);
    expect(opened.equals(der)).toBe(true);
    // Bound to its kid: the same sealed bytes do not open as another key.
    await expect(vault.vault.keys.openSecret('jwt_signing_key', 'sk_AAAAAAAAAAAAAAAA', row.sealed_private_key)).rejects.toThrow();
  });

  it('keeps a retired key published, and its tokens valid, after a rotation', async () => {
    const before = await accessToken(vault, admin, { scope: 'admin:clients' });
    const newKid = await vault.vault.identity.signingKeys.rotate();
    const after = await accessToken(vault, admin, { scope: 'admin:clients' });
    expect(decode(after).header.kid).toBe(newKid);
    const kids = (await vault.get('/.well-known/jwks.json').expect(200)).body.keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([decode(before).header.kid, newKid]));
    await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${before}`).expect(200);
    await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${after}`).expect(200);
  });

  it('drops a retired key from the JWKS once every token it signed has expired', async () => {
    const old = decode(await accessToken(vault, admin, { scope: 'admin:clients' })).header.kid;
    await vault.vault.identity.signingKeys.rotate();
    await vault.vault.db('signing_keys').where({ kid: old }).update({ retired_at: new Date(Date.now() - 24 * 3600 * 1000) });
    const kids = (await vault.get('/.well-known/jwks.json').expect(200)).body.keys.map((k: { kid: string }) => k.kid);
    expect(kids).not.toContain(old);
  });

  it('describes the token endpoint in RFC 8414 metadata', async () => {
    const res = await vault.get('/.well-known/oauth-authorization-server').expect(200);
    expect(res.body).toMatchObject({
      issuer: vault.url,
      token_endpoint: `${vault.url}/oauth/token`,
      jwks_uri: `${vault.url}/.well-known/jwks.json`,
      revocation_endpoint: `${vault.url}/oauth/revoke`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
  });
});

describe('EdDSA by setting', () => {
  it('signs with Ed25519 when PDVAULT_TOKEN_ALGORITHM is EdDSA, and accepts its own tokens', async () => {
    const vault = await startTestVault({ PDVAULT_TOKEN_ALGORITHM: 'EdDSA', PDVAULT_ISSUER: 'https://vault.internal.example', PDVAULT_TOKEN_AUDIENCE: 'urn:example:vault', PDVAULT_TOKEN_TTL_SECONDS: '900' });
    try {
      const admin = await registerAdmin(vault);
      const token = await accessToken(vault, admin, { scope: 'admin:clients' });
      const { header, claims } = decode(token);
      expect(header.alg).toBe('EdDSA');
      expect(claims).toMatchObject({ iss: 'https://vault.internal.example', aud: 'urn:example:vault' });
      expect(claims.exp! - claims.iat!).toBe(900);
      expect((await vault.get('/.well-known/jwks.json').expect(200)).body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
      await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(200);
    } finally {
      await vault.stop();
    }
  });
});
