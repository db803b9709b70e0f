import { createRemoteJWKSet, customFetch as joseFetch, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { startTestVault, type TestVault } from '../support/test-vault';
import { registerClient, type Credentials } from './support/identity-helpers';
import { fetchTrusting } from './support/tls-fetch';

let vault: TestVault;
let billing: Credentials;
beforeAll(async () => {
  vault = await startTestVault();
  billing = await registerClient(vault);
});
afterAll(() => vault.stop());

describe('interoperability with independent OAuth and JOSE libraries', () => {
  it.each([
    ['client_secret_basic', (secret: string) => oauth.ClientSecretBasic(secret)],
    ['client_secret_post', (secret: string) => oauth.ClientSecretPost(secret)],
  ])('oauth4webapi discovers the vault, obtains a token with %s, and jose verifies it against the JWKS URL', async (_label, auth) => {
    const fetch = fetchTrusting(vault.ca) as never;
    const issuer = new URL(vault.url);
    const discovery = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.customFetch]: fetch });
    const as = await oauth.processDiscoveryResponse(issuer, discovery);
    expect(as.token_endpoint).toBe(`${vault.url}/oauth/token`);

    const client: oauth.Client = { client_id: billing.clientId };
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      auth(billing.clientSecret),
      { scope: 'payment_methods:reveal', purpose: 'payment_processing' },
      { [oauth.customFetch]: fetch },
    );
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(300);

    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!), { [joseFetch]: fetchTrusting(vault.ca) as never });
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: as.issuer,
      audience: 'urn:pdvault:api',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ client_id: billing.clientId, sub: billing.clientId, scope: 'payment_methods:reveal', purpose: 'payment_processing' });
  });

  it('oauth4webapi sees RFC 6749 error bodies as OAuth errors', async () => {
    const fetch = fetchTrusting(vault.ca) as never;
    const issuer = new URL(vault.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.customFetch]: fetch }));
    const client: oauth.Client = { client_id: billing.clientId };
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(billing.clientSecret), { scope: 'payment_methods:reveal', purpose: 'newsletter' }, { [oauth.customFetch]: fetch });
    await expect(oauth.processClientCredentialsResponse(as, client, response)).rejects.toMatchObject({ error: 'invalid_scope' });
  });
});
