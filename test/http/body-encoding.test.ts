import { basic, registerClient, type Credentials } from '../identity/support/identity-helpers';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, type Caller } from '../vault/support/data-callers';

let vault: TestVault;
let account: Caller;
let billing: Credentials;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
  billing = await registerClient(vault);
});
afterAll(() => vault.stop());

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const subjectCount = async () => Number((await vault.vault.db('subjects').count<{ n: string }[]>('* as n'))[0]!.n);

// superagent would serialise a Buffer as JSON or a form like any object; these bytes go as they are.
const asIs = (body: unknown) => body as string;

/** POST /v1/subjects with exactly these bytes and this Content-Type. */
const postSubject = (body: Buffer, contentType = 'application/json') =>
  vault.post('/v1/subjects').set('Authorization', auth(account)).set('Content-Type', contentType).serialize(asIs).send(body);

const revokeRequest = (body: Buffer, contentType = 'application/x-www-form-urlencoded') =>
  vault.unchecked('post', '/oauth/revoke').set('Authorization', basic(billing)).set('Content-Type', contentType).serialize(asIs).send(body);

describe('a JSON body means one thing, whatever its encoding', () => {
  it('refuses a repeated property behind a UTF-8 byte order mark with 400 duplicate_property', async () => {
    const before = await subjectCount();
    const res = await postSubject(Buffer.concat([BOM, Buffer.from('{"name":"first","name":"second"}')])).expect(400);
    expect(res.body.code).toBe('duplicate_property');
    expect(res.body.errors).toEqual([{ pointer: '/name', detail: expect.any(String) }]);
    expect(await subjectCount()).toBe(before);
  });

  it('refuses a body that is a byte order mark alone with 400 malformed_json, creating nothing', async () => {
    const before = await subjectCount();
    const res = await postSubject(BOM).expect(400);
    expect(res.body.code).toBe('malformed_json');
    expect(await subjectCount()).toBe(before);
  });

  it.each([
    ['a charset hidden in a quoted parameter before the real one', 'application/json; foo="a;charset=utf-8"; charset=utf-16le'],
    ['a second charset parameter after a UTF-8 one', 'application/json; charset=utf-8; charset=utf-16le'],
  ])('refuses %s with 415 unsupported_media_type', async (_label, contentType) => {
    const before = await subjectCount();
    const res = await postSubject(Buffer.from('{"name":"Jo Example"}', 'utf16le'), contentType).expect(415);
    expect(res.body.code).toBe('unsupported_media_type');
    expect(await subjectCount()).toBe(before);
  });

  it.each([
    ['a parameter without a value', 'application/json; charset'],
    ['an unterminated quoted value', 'application/json; charset="utf-8'],
  ])('refuses a Content-Type with %s with 415 unsupported_media_type', async (_label, contentType) => {
    const res = await postSubject(Buffer.from('{"name":"Jo Example"}'), contentType).expect(415);
    expect(res.body.code).toBe('unsupported_media_type');
  });

  it.each([
    ['a byte that is never UTF-8 (0xFF)', [0xff]],
    ['an encoded surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['an overlong encoding of "/" (C0 AF)', [0xc0, 0xaf]],
    ['a truncated sequence (E2 82)', [0xe2, 0x82]],
  ])('refuses %s in a JSON string with 400 invalid_characters and stores nothing', async (_label, bytes) => {
    const before = await subjectCount();
    const body = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from(bytes), Buffer.from('b"}')]);
    const res = await postSubject(body).expect(400);
    expect(res.body.code).toBe('invalid_characters');
    expect(await subjectCount()).toBe(before);
  });

  it('refuses a form body at /oauth/revoke that is not valid UTF-8 with invalid_request', async () => {
    const res = await revokeRequest(Buffer.concat([Buffer.from('token=at_'), Buffer.from([0xff])])).expect(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it.each([
    ['an escape that is not hex', 'token=at_x&%zz=1'],
    ['an escape of a byte that is not UTF-8', 'token=at_%FF'],
    ['an escaped UTF-16 surrogate', 'token=at_%ED%A0%80'],
    ['a truncated escape', 'token=at_x%2'],
  ])('refuses a form body at /oauth/revoke with %s with invalid_request', async (_label, body) => {
    const res = await revokeRequest(Buffer.from(body)).expect(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it.each([
    ['__proto__', 'grant_type=client_credentials&scope=payment_methods%3Aread&purpose=billing&__proto__=x'],
    ['__proto__ percent-encoded', 'grant_type=client_credentials&scope=payment_methods%3Aread&purpose=billing&%5F%5Fproto%5F%5F=x'],
    ['constructor', 'grant_type=client_credentials&scope=payment_methods%3Aread&purpose=billing&constructor=x'],
  ])('refuses a token request naming %s with invalid_request rather than dropping it, and issues no token', async (_label, body) => {
    const res = await vault
      .unchecked('post', '/oauth/token')
      .set('Authorization', basic(billing))
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .serialize(asIs)
      .send(Buffer.from(body))
      .expect(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('refuses a token request whose purpose is badly percent-encoded with invalid_request, not as an unknown purpose', async () => {
    const res = await vault
      .unchecked('post', '/oauth/token')
      .set('Authorization', basic(billing))
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .serialize(asIs)
      .send(Buffer.from('grant_type=client_credentials&purpose=%zz'))
      .expect(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    expect(res.body.error_description).toMatch(/percent-encoding/);
  });

  it('refuses a form body at /oauth/revoke whose real charset is not UTF-8 as an RFC 6749 invalid_request', async () => {
    const res = await revokeRequest(Buffer.from('token=at_x'), 'application/x-www-form-urlencoded; x="a;charset=utf-8"; charset=iso-8859-1').expect(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The request body must be encoded as UTF-8' });
  });
});
