import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, type Caller } from '../vault/support/data-callers';
import { adminCaller, bearer } from '../policy/support/principals';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault({ PDVAULT_BODY_LIMIT_BYTES: '1024' });
  account = await accountService(vault);
});

// A route that reads a JSON body, for a caller it admits: a body is read only then.
const postBody = (contentType: string) => vault.post('/v1/subjects/search').set('Authorization', auth(account)).set('Content-Type', contentType);
afterAll(() => vault.stop());

const problem = (res: { body: Record<string, unknown>; headers: Record<string, string> }) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.body;
};

describe('errors are problem+json with a stable code and the request id', () => {
  it('answers malformed JSON with 400 malformed_json and does not echo the body', async () => {
    const res = await postBody('application/json').send('{"secret-canary": x');
    expect(res.status).toBe(400);
    const body = problem(res);
    expect(body.code).toBe('malformed_json');
    expect(body.request_id).toBe(res.headers['x-request-id']);
    expect(res.text).not.toContain('secret-canary');
  });

  it.each(['"jo@example.com"', '123', 'true', 'null', ' "x" '])('answers the JSON %s, which is no object, as it answers [] (the route\'s own refusal), and does not echo it', async (body) => {
    const before = await vault.vault.db('subjects').count('* as n').first();
    const send = (text: string) => vault.post('/v1/subjects').set('Authorization', auth(account)).set('Content-Type', 'application/json').send(text);
    const [res, array] = [await send(body), await send('[]')];
    expect([res.status, problem(res).code, res.body.errors]).toEqual([array.status, array.body.code, array.body.errors]);
    expect(res.status).toBe(422);
    expect(res.text).not.toContain('jo@example.com');
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
  });

  it.each(['"kek"', 'null'])('answers the bare JSON value %s on an admin route as that route answers [], and changes nothing', async (body) => {
    const admin = await adminCaller(vault, ['admin:keys', 'admin:clients']);
    const rotation = (text: string) => vault.post('/v1/admin/keys/rotations').set(bearer(admin)).set('Content-Type', 'application/json').send(text);
    const [res, array] = [await rotation(body), await rotation('[]')];
    expect([res.status, res.body.code]).toEqual([400, 'invalid_body']);
    expect([res.status, res.body.code, res.body.errors]).toEqual([array.status, array.body.code, array.body.errors]);
    // A route whose members are all optional: no body rotates the secret, a body that is no object does not.
    const client = admin.principal.clientId;
    const before = (await vault.vault.db('clients').where({ id: client }).first()).secret_id;
    const rotate = await vault.post(`/v1/admin/clients/${client}/rotate-secret`).set(bearer(admin)).set('Content-Type', 'application/json').send(body);
    expect([rotate.status, rotate.body.code]).toEqual([400, 'invalid_body']);
    expect((await vault.vault.db('clients').where({ id: client }).first()).secret_id).toBe(before);
  });

  it('refuses a body sent as a JSON Patch with 415, rather than take an object under that type for a merge patch', async () => {
    const res = await postBody('application/json-patch+json').send(JSON.stringify({ email: 'jo@example.com' }));
    expect([res.status, problem(res).code]).toEqual([415, 'unsupported_media_type']);
    expect((await postBody('application/merge-patch+json').send(JSON.stringify({ email: 'jo@example.com' }))).status).toBe(200);
  });

  it('answers an unknown route with 404 not_found', async () => {
    const res = await vault.get('/v1/nothing-here').expect(404);
    expect(problem(res).code).toBe('not_found');
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers a wrong method with 405 and an Allow header', async () => {
    const res = await vault.delete('/healthz').expect(405);
    expect(problem(res).code).toBe('method_not_allowed');
    expect(res.headers.allow).toBe('GET');
  });

  it('answers a body over the limit with 413 body_too_large', async () => {
    const res = await postBody('application/json').send(JSON.stringify({ a: 'x'.repeat(2000) }));
    expect(res.status).toBe(413);
    expect(problem(res).code).toBe('body_too_large');
  });

  it('answers a non-JSON body with 415 unsupported_media_type', async () => {
    const res = await postBody('text/plain').send('hello');
    expect(res.status).toBe(415);
    expect(problem(res).code).toBe('unsupported_media_type');
  });

  it('answers a form body outside /oauth with 415', async () => {
    const res = await postBody('application/x-www-form-urlencoded').send('a=b');
    expect(res.status).toBe(415);
  });

  it('reads no body for a caller the route does not admit, nor on a path or method that takes none', async () => {
    const unauthenticated = await vault.post('/v1/subjects/search').set('Content-Type', 'application/json').send('{"secret-canary": x');
    expect([unauthenticated.status, problem(unauthenticated).code, problem(unauthenticated).detail]).toEqual([401, 'unauthenticated', 'Send Authorization: Bearer <access token>; POST /oauth/token issues one']);
    const elsewhere = await vault.post('/v1/anything').set('Authorization', auth(account)).set('Content-Type', 'application/json').send('{"secret-canary": x');
    expect([elsewhere.status, problem(elsewhere).code]).toEqual([404, 'not_found']);
    const getOnly = await vault.post('/healthz').set('Content-Type', 'application/json').send('{"secret-canary": x');
    expect([getOnly.status, problem(getOnly).code]).toEqual([405, 'method_not_allowed']);
    for (const res of [unauthenticated, elsewhere, getOnly]) expect(res.text).not.toContain('secret-canary');
  });

  it.each([
    ['a NUL byte', '{"name":"a\\u0000b"}'],
    ['a lone high surrogate', '{"name":"\\ud800"}'],
    ['a lone low surrogate', '{"name":"x\\udc00y"}'],
    ['a NUL byte in a property name', '{"a\\u0000":1}'],
  ])('answers %s in a JSON string with 400 invalid_characters', async (_label, raw) => {
    const res = await postBody('application/json').send(raw);
    expect(res.status).toBe(400);
    expect(problem(res).code).toBe('invalid_characters');
  });

  it('answers a NUL byte or a broken escape in the URL with 400', async () => {
    const nul = await vault.get('/healthz%00').expect(400);
    expect(problem(nul).code).toBe('invalid_characters');
    const broken = await vault.get('/v1/%E0%A4%A').expect(400);
    expect(problem(broken).code).toBe('invalid_characters');
    const surrogate = await vault.get('/v1/%ED%A0%80').expect(400);
    expect(problem(surrogate).code).toBe('invalid_characters');
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the reserved property name %s with 400', async (key) => {
    const res = await postBody('application/json').send(`{"a":{"${key}":{"polluted":true}}}`);
    expect(res.status).toBe(400);
    const body = problem(res);
    expect(body.code).toBe('forbidden_property');
    expect(body.errors).toEqual([{ pointer: `/a/${key}`, detail: expect.any(String) }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses JSON nested deeper than any vault document with 400', async () => {
    const deep = '['.repeat(100) + ']'.repeat(100);
    const res = await postBody('application/json').send(deep);
    expect(res.status).toBe(400);
    expect(problem(res).code).toBe('nesting_too_deep');
  });

  it('answers oversized headers with 431 and keeps serving', async () => {
    // Node's HTTP parser refuses it before the app runs; client-errors.test.ts checks that answer's problem body.
    const res = await vault.unchecked('get', '/healthz').set('X-Filler', 'x'.repeat(20_000));
    expect(res.status).toBe(431);
    await vault.get('/healthz').expect(200);
  });

  it('ignores a request id that could inject into logs and issues its own', async () => {
    const res = await vault.get('/healthz').set('X-Request-Id', 'abc\r\nforged: 1').ok(() => true).catch(() => undefined);
    const clean = await vault.get('/healthz').set('X-Request-Id', 'bad id with spaces');
    expect(clean.headers['x-request-id']).toMatch(/^req_/);
    expect(res === undefined || res.headers['x-request-id'] !== 'abc\r\nforged: 1').toBe(true);
    const kept = await vault.get('/healthz').set('X-Request-Id', '4bf92f3577b34da6a3ce929d0e0e4736');
    expect(kept.headers['x-request-id']).toMatch(/^req_/);
    expect(kept.headers['x-correlation-id']).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });
});
