import { exchange } from '../support/raw-https';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accessToken, basic, registerAdmin, type Credentials } from './support/identity-helpers';

let vault: TestVault;
let admin: Credentials;
beforeAll(async () => {
  vault = await startTestVault();
  admin = await registerAdmin(vault);
});
afterAll(() => vault.stop());

/** The audit events of one HTTP request, found by the id its response carries. */
const eventsOf = async (res: { headers: Record<string, string> }) => {
  const requestId = res.headers['x-request-id'];
  expect(requestId).toMatch(/^req_/);
  return vault.vault.db('audit_events').where({ request_id: requestId }).select('action', 'outcome', 'reason', 'client_id', 'target');
};
const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
const revoke = (c: Credentials, token: string) => vault.post('/oauth/revoke').set('Authorization', basic(c)).type('form').send({ token });

describe('the token endpoint in the audit trail', () => {
  it('records an issued token under the request id its response carries', async () => {
    const res = await vault.post('/oauth/token').set('Authorization', basic(admin)).type('form').send({ grant_type: 'client_credentials', scope: 'admin:clients' }).expect(200);
    expect(await eventsOf(res)).toEqual([{ action: 'token.issue', outcome: 'allowed', reason: null, client_id: admin.clientId, target: jtiOf(res.body.access_token) }]);
  });

  it('records a refusal under its request id, a malformed request included', async () => {
    const wrongSecret = await vault.post('/oauth/token').set('Authorization', basic({ ...admin, clientSecret: 'wrong' })).type('form').send({ grant_type: 'client_credentials' }).expect(401);
    expect(await eventsOf(wrongSecret)).toEqual([{ action: 'token.issue', outcome: 'denied', reason: 'invalid_client', client_id: admin.clientId, target: null }]);

    const repeated = await vault.post('/oauth/token').set('Authorization', basic(admin)).type('form').send('grant_type=client_credentials&scope=a&scope=b').expect(400);
    expect(repeated.body.error).toBe('invalid_request');
    expect(await eventsOf(repeated)).toEqual([{ action: 'token.issue', outcome: 'denied', reason: 'invalid_request', client_id: admin.clientId, target: null }]);
  });
});

describe('a request refused before its OAuth endpoint runs', () => {
  // Each way, by the code it is refused with: a JSON body, bad percent-encoding, an expectation other than 100-continue.
  const sent = {
    unsupported_media_type: (path: string) => vault.post(path).set('Authorization', basic(admin)).set('Content-Type', 'application/json').send('{"token":"x","grant_type":"client_credentials"}'),
    invalid_characters: (path: string) => vault.post(path).set('Authorization', basic(admin)).type('form').send('token=%zz&grant_type=client_credentials'),
    expectation_failed: async (path: string) => {
      const body = 'token=x&grant_type=client_credentials';
      const head = [`POST ${path} HTTP/1.1`, 'Host: localhost', `Authorization: ${basic(admin)}`, 'Expect: nope', 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`, 'Connection: close'];
      const answer = await exchange(vault, `${head.join('\r\n')}\r\n\r\n${body}`);
      return { status: Number(answer.statusLine.split(' ')[1]), headers: answer.headers };
    },
  };
  it('is recorded when refused as a 5xx that answers what the caller sent (a transfer coding the vault does not implement)', async () => {
    const body = 'token=x';
    const head = ['POST /oauth/revoke HTTP/1.1', 'Host: localhost', `Authorization: ${basic(admin)}`, 'Content-Type: application/x-www-form-urlencoded', 'Transfer-Encoding: gzip, chunked', 'Connection: close'];
    const answer = await exchange(vault, `${head.join('\r\n')}\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 501 /);
    expect(await eventsOf({ headers: answer.headers })).toEqual([{ action: 'token.revoke', outcome: 'denied', reason: 'transfer_coding_not_implemented', client_id: admin.clientId, target: null }]);
  });

  it.each([
    ['/oauth/token', 'token.issue'],
    ['/oauth/revoke', 'token.revoke'],
  ])('at %s is in the audit trail as the endpoint records its own refusals, naming the client id sent', async (path, action) => {
    for (const [reason, send] of Object.entries(sent)) {
      const res = await send(path);
      // RFC 6749 §5.2: the endpoint answers every bad request 400 invalid_request; the trail keeps the vault's own code.
      expect([reason, res.status]).toEqual([reason, 400]);
      expect(await eventsOf(res)).toEqual([{ action, outcome: 'denied', reason, client_id: admin.clientId, target: null }]);
    }
  });
});

describe('the revocation endpoint in the audit trail', () => {
  it('records a revocation under its request id', async () => {
    const token = await accessToken(vault, admin, { scope: 'admin:clients' });
    const res = await revoke(admin, token).expect(200);
    expect(await eventsOf(res)).toEqual([{ action: 'token.revoke', outcome: 'allowed', reason: null, client_id: admin.clientId, target: jtiOf(token) }]);
  });

  it("records a client presenting another client's token, naming the presenter and the token's id, never the token", async () => {
    const other = await registerAdmin(vault);
    const token = await accessToken(vault, other, { scope: 'admin:clients' });
    const res = await revoke(admin, token).expect(400);
    expect(res.body.error).toBe('unauthorized_client');
    expect(await eventsOf(res)).toEqual([{ action: 'token.revoke', outcome: 'denied', reason: 'unauthorized_client', client_id: admin.clientId, target: jtiOf(token) }]);
    const rows = await vault.vault.db('audit_events').whereRaw('request_id = ?', [res.headers['x-request-id']]);
    expect(JSON.stringify(rows)).not.toContain(token.split('.')[2]);
  });

  it('records a revocation refused for bad credentials or a missing token', async () => {
    const wrongSecret = await revoke({ ...admin, clientSecret: 'wrong' }, 'x').expect(401);
    expect(await eventsOf(wrongSecret)).toEqual([{ action: 'token.revoke', outcome: 'denied', reason: 'invalid_client', client_id: admin.clientId, target: null }]);
    const noToken = await vault.post('/oauth/revoke').set('Authorization', basic(admin)).type('form').send({}).expect(400);
    expect(await eventsOf(noToken)).toEqual([{ action: 'token.revoke', outcome: 'denied', reason: 'invalid_request', client_id: admin.clientId, target: null }]);
  });

  it('records nothing for a token that is not valid, answered 200 as RFC 7009 asks', async () => {
    const res = await revoke(admin, 'not-a-token').expect(200);
    expect(await eventsOf(res)).toEqual([]);
  });
});
