import https from 'node:https';
import tls from 'node:tls';
import { gzipSync } from 'node:zlib';
import { accessToken, registerAdmin, registerClient } from '../identity/support/identity-helpers';
import { exchange, exchangeText, parseAnswer, type RawAnswer } from '../support/raw-https';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, type Caller } from '../vault/support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

/** An answer the app made: problem+json with its request id (the requests ask for the connection to close after it). */
function expectRefusal(answer: RawAnswer, status: number, code: string): void {
  expect(answer.statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.headers['x-request-id']).toMatch(/^req_/);
  expect(answer.headers.connection).toBe('close');
  expect(answer.headers['strict-transport-security']).toBeDefined();
  expect(JSON.parse(answer.body)).toMatchObject({ status, code, request_id: answer.headers['x-request-id'] });
  expect(answer.body).not.toContain('canary');
}

/**
 * Sends a request head with `Expect: 100-continue` and the body only once the vault says
 * `100 Continue`; the body is never sent if a final answer comes first.
 */
function sendWhenInvited(headLines: string[], body: string): Promise<{ invited: boolean; answer: RawAnswer }> {
  return new Promise((resolve, reject) => {
    let received = '';
    let invited = false;
    const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: vault.vault.port, ca: vault.ca }, () =>
      socket.write(head([...headLines, 'Expect: 100-continue', 'Connection: close'])),
    );
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!invited && received.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        invited = true;
        socket.write(body);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ invited, answer: parseAnswer(received) }));
  });
}

describe('Content-Length', () => {
  it('of 00 is no body, as 0 is, on a route that takes none', async () => {
    const answer = await exchange(vault, head(['GET /healthz HTTP/1.1', 'Host: localhost', 'Content-Length: 00', 'Connection: close']));
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('Expect: 100-continue', () => {
  it('invites no body from a caller without a token: the answer is 401, and the body is never asked for', async () => {
    const body = JSON.stringify({ email: 'canary@example.com' });
    const { invited, answer } = await sendWhenInvited(['POST /v1/subjects/search HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', `Content-Length: ${body.length}`], body);
    expect(invited).toBe(false);
    expectRefusal(answer, 401, 'unauthenticated');
  });

  it('invites the body of a caller the route admits', async () => {
    const body = JSON.stringify({ email: 'canary@example.com' });
    const { invited, answer } = await sendWhenInvited(['POST /v1/subjects/search HTTP/1.1', 'Host: localhost', `Authorization: ${auth(account)}`, 'Content-Type: application/json', `Content-Length: ${body.length}`], body);
    expect([invited, answer.statusLine]).toEqual([true, expect.stringMatching(/^HTTP\/1\.1 200 /)]);
  });
});

describe('a declared body over the limit', () => {
  it('is refused with 413 at once, before the body that was announced arrives', async () => {
    // Two bytes of the 99,999,999 announced: waiting for the rest would end in 408 after the request timeout.
    const request = head(['POST /v1/subjects/search HTTP/1.1', 'Host: localhost', `Authorization: ${auth(account)}`, 'Content-Type: application/json', 'Content-Length: 99999999', 'Connection: close']) + '{}';
    expectRefusal(await exchange(vault, request), 413, 'body_too_large');
  });

  it('sent whole before the client reads is answered 413, and the connection then serves the next request', async () => {
    const body = JSON.stringify({ name: 'canary'.repeat(200_000) });
    const text = await exchangeText(
      vault,
      head(['POST /v1/subjects HTTP/1.1', 'Host: localhost', `Authorization: ${auth(account)}`, 'Content-Type: application/json', `Content-Length: ${body.length}`]) +
        body +
        head(['GET /healthz HTTP/1.1', 'Host: localhost', 'Connection: close']),
    );
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413', 'HTTP/1.1 200']);
    expect(text).not.toContain('canary');
  });

  it('is not invited with 100 Continue: the answer is 413 and the body is never sent', async () => {
    const { invited, answer } = await sendWhenInvited(['POST /v1/subjects HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', 'Content-Length: 50000000'], '{}');
    expect(invited).toBe(false);
    expectRefusal(answer, 413, 'body_too_large');
  });
});

describe('Expect', () => {
  it('100-continue is answered with 100 Continue, and the body sent then is read', async () => {
    const body = JSON.stringify({ name: 'Invited Body' });
    const { invited, answer } = await sendWhenInvited(
      ['POST /v1/subjects HTTP/1.1', 'Host: localhost', `Authorization: ${auth(account)}`, 'Content-Type: application/json', `Content-Length: ${body.length}`],
      body,
    );
    expect(invited).toBe(true);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 201 /);
    const id = JSON.parse(answer.body).id as string;
    expect(await vault.vault.db('subjects').where({ id }).first()).toBeDefined();
  });

  it.each(['100-continue', 'something-else'])('%s is ignored from an HTTP/1.0 client, whose body follows at once (RFC 9110 §10.1.1)', async (expectation) => {
    const body = JSON.stringify({ name: 'Old Client' });
    const text = await exchangeText(
      vault,
      head(['POST /v1/subjects HTTP/1.0', 'Host: localhost', `Authorization: ${auth(account)}`, `Expect: ${expectation}`, 'Content-Type: application/json', `Content-Length: ${body.length}`]) + body,
    );
    expect(text).not.toContain('100 Continue');
    expect(parseAnswer(text).statusLine).toMatch(/^HTTP\/1\.1 201 /);
  });

  it('100-continue on a request without a body keeps the connection for the next request', async () => {
    const text = await exchangeText(vault, head(['GET /healthz HTTP/1.1', 'Host: localhost', 'Expect: 100-continue']) + head(['GET /healthz HTTP/1.1', 'Host: localhost', 'Connection: close']));
    expect(text.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
  });

  it('of anything else is refused with 417 as a problem, and nothing is created', async () => {
    const before = await vault.vault.db('subjects').count('* as n').first();
    const body = JSON.stringify({ name: 'canary' });
    const request =
      head(['POST /v1/subjects HTTP/1.1', 'Host: localhost', `Authorization: ${auth(account)}`, 'Expect: canary-bogus', 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Connection: close']) + body;
    expectRefusal(await exchange(vault, request), 417, 'expectation_failed');
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
  });
});

describe('Transfer-Encoding', () => {
  it('with a coding besides chunked is refused with 501, and nothing is created', async () => {
    const before = await vault.vault.db('subjects').count('* as n').first();
    const body = JSON.stringify({ name: 'canary' });
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const request =
      head(['POST /v1/subjects HTTP/1.1', 'Host: localhost', `Authorization: ${auth(account)}`, 'Content-Type: application/json', 'Transfer-Encoding: gzip, chunked', 'Connection: close']) + chunked;
    const logged = vault.logs.length;
    expectRefusal(await exchange(vault, request), 501, 'transfer_coding_not_implemented');
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
    // The caller's mistake, not a fault of the vault: no error in the log, no stack.
    expect(vault.logs.slice(logged).map((line) => JSON.parse(line) as { level: string }).filter((line) => ['error', 'fatal'].includes(line.level))).toEqual([]);
  });
});

describe('a body whose length cannot be told from the head (RFC 9112 §6.1, §6.3)', () => {
  const statusLines = (text: string) => text.match(/^HTTP\/1\.[01] \d{3} /gm) ?? [];
  const body = JSON.stringify({ name: 'canary' });
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const pipelined = head(['GET /healthz HTTP/1.1', 'Host: localhost']);

  it.each([
    ['HTTP/1.0 with Transfer-Encoding', 'HTTP/1.0', ['Transfer-Encoding: chunked']],
    ['a transfer coding other than chunked alone', 'HTTP/1.1', ['Transfer-Encoding: gzip']],
    ['a second, empty Transfer-Encoding line', 'HTTP/1.1', ['Transfer-Encoding: chunked', 'Transfer-Encoding: ']],
  ])('%s is refused with 400, nothing is created, and the connection closes before a request behind it is read', async (_, version, coding) => {
    const before = await vault.vault.db('subjects').count('* as n').first();
    const request =
      head([`POST /v1/subjects ${version}`, 'Host: localhost', 'Connection: keep-alive', `Authorization: ${auth(account)}`, 'Content-Type: application/json', ...coding]) + chunked + pipelined;
    const text = await exchangeText(vault, request);
    expect(statusLines(text)).toHaveLength(1);
    expectRefusal(parseAnswer(text), 400, 'bad_request');
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
  });

  it('at the token endpoint, which answers in RFC 6749 form, closes the connection too', async () => {
    const form = 'grant_type=client_credentials';
    const request = head(['POST /oauth/token HTTP/1.0', 'Host: localhost', 'Connection: keep-alive', 'Content-Type: application/x-www-form-urlencoded', 'Transfer-Encoding: chunked']) + `${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n` + pipelined;
    const text = await exchangeText(vault, request);
    expect(statusLines(text)).toHaveLength(1);
    const answer = parseAnswer(text);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
  });
});

describe('Upgrade', () => {
  const behind = head(['GET /readyz HTTP/1.1', 'Host: localhost']);
  const firstAnswer = async (request: string) => parseAnswer((await exchangeText(vault, request)).split(/(?=^HTTP\/1\.1 )/m)[0]!);

  it('is not taken up: the request is answered, with the connection closed, since nothing behind it on that connection would be', async () => {
    const answer = await firstAnswer(head(['GET /healthz HTTP/1.1', 'Host: localhost', 'Connection: Upgrade', 'Upgrade: websocket']) + behind);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.headers.connection).toBe('close');
  });

  it('closes the connection after a refusal too', async () => {
    const answer = await firstAnswer(head(['GET /healthz HTTP/1.1', 'Host: localhost', 'Connection: Upgrade', 'Upgrade: websocket', 'Expect: nothing']) + behind);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 417 /);
    expect(answer.headers.connection).toBe('close');
  });
});

describe('Content-Encoding', () => {
  const count = () => vault.vault.db('subjects').count({ n: '*' }).then((rows) => Number(rows[0]!.n));
  // The compressed bytes as they are, on a connection of their own.
  const postCompressed = (encoding: string, body: Buffer) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', servername: 'localhost', port: vault.vault.port, ca: vault.ca, method: 'POST', path: '/v1/subjects', agent: false },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      req.setHeader('Authorization', auth(account));
      req.setHeader('Content-Type', 'application/json');
      req.setHeader('Content-Encoding', encoding);
      req.end(body);
    });

  it('gzip is read as the body it compresses', async () => {
    const res = await postCompressed('gzip', gzipSync('{"name":"Compressed Body"}'));
    expect([res.status, res.body.name]).toEqual([201, 'Compressed Body']);
  });

  it('that inflates past the limit is refused with 413 naming the limit, and nothing is created', async () => {
    const before = await count();
    const res = await postCompressed('gzip', gzipSync(JSON.stringify({ name: 'x'.repeat(200_000) })));
    expect([res.status, res.body.code, res.body.detail]).toEqual([413, 'body_too_large', expect.stringMatching(/^At most \d+ bytes$/)]);
    expect(await count()).toBe(before);
  });

  it('that does not fit the body is refused with 400 saying so, and nothing is created', async () => {
    const before = await count();
    const res = await postCompressed('deflate', gzipSync('{"name":"canary"}'));
    expect([res.status, res.body.code, res.body.title]).toEqual([400, 'bad_request', 'The request body does not decompress as its Content-Encoding says']);
    expect(await count()).toBe(before);
  });
});

describe('an HTTP version other than 1.1 or 1.0', () => {
  it.each([
    ['HTTP/2.0 written in a request line', 'GET /healthz HTTP/2.0\r\nHost: localhost\r\n\r\n'],
    ['no version at all (HTTP/0.9)', 'GET /healthz\r\n\r\n'],
  ])('is refused with 505 when %s, as the caller\'s mistake, not logged as a fault', async (_label, request) => {
    const logged = vault.logs.length;
    expectRefusal(await exchange(vault, request), 505, 'http_version_not_supported');
    expect(vault.logs.slice(logged).map((line) => JSON.parse(line) as { level: string }).filter((line) => ['error', 'fatal'].includes(line.level))).toEqual([]);
  });

  it('creates nothing from a POST that names HTTP/2.0 and skips the checks HTTP/1.1 asks for', async () => {
    const before = await vault.vault.db('subjects').count('* as n').first();
    const body = JSON.stringify({ name: 'canary' });
    const request = head(['POST /v1/subjects HTTP/2.0', `Authorization: ${auth(account)}`, 'Content-Type: application/json', `Content-Length: ${body.length}`]) + body;
    expectRefusal(await exchange(vault, request), 505, 'http_version_not_supported');
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
  });
});

describe('CONNECT', () => {
  it('is answered with 501 as a problem rather than a dropped connection', async () => {
    const answer = await exchange(vault, head(['CONNECT 127.0.0.1:5432 HTTP/1.1', 'Host: 127.0.0.1:5432']));
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 501 /);
    expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 501, code: 'method_not_implemented' });
  });
});

describe('a body where the route takes none', () => {
  it('on DELETE is refused with 400 body_not_accepted, and the subject is not erased', async () => {
    const { id } = await createSubject(vault, account);
    const request = head([`DELETE /v1/subjects/${id} HTTP/1.1`, 'Host: localhost', `Authorization: ${auth(account)}`, 'Content-Type: application/json', 'Content-Length: 2', 'Connection: close']) + '[]';
    expectRefusal(await exchange(vault, request), 400, 'body_not_accepted');
    await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
  });

  it.each([
    ['as JSON', ['Content-Type: application/json']],
    ['of no declared type', []],
  ])('on DELETE, chunked %s, is refused with 400 body_not_accepted, and the subject is not erased', async (_label, type) => {
    const { id } = await createSubject(vault, account);
    const request = head([`DELETE /v1/subjects/${id} HTTP/1.1`, 'Host: localhost', `Authorization: ${auth(account)}`, ...type, 'Transfer-Encoding: chunked', 'Connection: close']) + '2\r\n[]\r\n0\r\n\r\n';
    expectRefusal(await exchange(vault, request), 400, 'body_not_accepted');
    await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
  });

  it.each([
    ['Content-Length: 0', ['Content-Length: 0'], ''],
    ['an empty chunked body', ['Content-Type: application/json', 'Transfer-Encoding: chunked'], '0\r\n\r\n'],
    ['an empty chunked body of no declared type', ['Transfer-Encoding: chunked'], '0\r\n\r\n'],
  ])('is not found in %s: a DELETE carrying it erases, a GET carrying it reads', async (_label, framing, body) => {
    const { id } = await createSubject(vault, account);
    const read = await exchange(vault, head([`GET /v1/subjects/${id} HTTP/1.1`, 'Host: localhost', `Authorization: ${auth(account)}`, ...framing, 'Connection: close']) + body);
    expect(read.statusLine).toMatch(/^HTTP\/1\.1 200 /);
    const erased = await exchange(vault, head([`DELETE /v1/subjects/${id} HTTP/1.1`, 'Host: localhost', `Authorization: ${auth(account)}`, ...framing, 'Connection: close']) + body);
    expect(erased.statusLine).toMatch(/^HTTP\/1\.1 204 /);
  });

  it('on GET is refused with 400 body_not_accepted', async () => {
    const { id } = await createSubject(vault, account);
    const request = head([`GET /v1/subjects/${id} HTTP/1.1`, 'Host: localhost', `Authorization: ${auth(account)}`, 'Content-Type: application/json', 'Content-Length: 2', 'Connection: close']) + '{}';
    expectRefusal(await exchange(vault, request), 400, 'body_not_accepted');
  });

  it('on a POST that takes none (disabling a client) is refused with 400 body_not_accepted, and the client stays enabled', async () => {
    const admin = await registerAdmin(vault);
    const token = await accessToken(vault, admin, { scope: 'admin:clients' });
    const target = await registerClient(vault);
    const res = await vault.post(`/v1/admin/clients/${target.clientId}/disable`).set('Authorization', `Bearer ${token}`).send({ reason: 'canary' });
    expect([res.status, res.body.code]).toEqual([400, 'body_not_accepted']);
    expect((await vault.vault.db('clients').where({ id: target.clientId }).first()).enabled).toBe(true);
    await vault.post(`/v1/admin/clients/${target.clientId}/disable`).set('Authorization', `Bearer ${token}`).expect(200);
  });
});

describe('the number of header fields', () => {
  const fillers = (n: number) => Array.from({ length: n }, (_, i) => `X-Filler-${i}: 1`);

  it('past 100 is refused with 431, rather than the fields past Node\'s count being dropped unseen', async () => {
    const { id } = await createSubject(vault, account);
    const request = head([`GET /v1/subjects/${id} HTTP/1.1`, 'Host: localhost', `Authorization: ${auth(account)}`, ...fillers(150), 'Authorization: Bearer canary', 'Connection: close']);
    expectRefusal(await exchange(vault, request), 431, 'headers_too_large');
  });

  it('within 100, still has a repeated Authorization refused however far apart the two are', async () => {
    const { id } = await createSubject(vault, account);
    const request = head([`GET /v1/subjects/${id} HTTP/1.1`, 'Host: localhost', `Authorization: ${auth(account)}`, ...fillers(90), 'Authorization: Bearer canary', 'Connection: close']);
    const answer = await exchange(vault, request);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.body).code).toBe('duplicate_header');
  });
});
