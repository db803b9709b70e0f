import tls from 'node:tls';
import { exchangeText } from '../support/raw-https';
import { startTestVault, type TestVault } from '../support/test-vault';
import { auth, SAMPLE } from '../vault/support/data-callers';
import {
  attack,
  concretePath,
  dataFingerprint,
  expectAlive,
  expectCleanLogs,
  expectNothingWritten,
  expectPastAuthentication,
  expectRefused,
  OPERATIONS,
  prepareFixtures,
  type Fixtures,
  type Operation,
} from './support/attack-surface';
import { JSON_FRAGMENTS, LOG_INJECTIONS, LOG_MARKER, SQL_INJECTIONS, validBody } from './support/payloads';

let vault: TestVault;
let fixtures: Fixtures;
beforeAll(async () => {
  vault = await startTestVault();
  fixtures = await prepareFixtures(vault);
}, 60_000);
afterAll(() => vault?.stop());

const securedOperations = OPERATIONS.filter((op) => op.scope);
const withPathParameters = OPERATIONS.filter((op) => op.pathParams.length > 0);

/** Ids as they go on the wire (already percent-encoded): injections, NUL, a lone surrogate, overlong UTF-8, traversal. */
const HOSTILE_IDS = [
  ...[...SQL_INJECTIONS, ...LOG_INJECTIONS, ...JSON_FRAGMENTS].map(encodeURIComponent),
  '%00',
  'sub_AAAAAAAAAAAAAAAAAAAAAA%00',
  '%ED%A0%80',
  '%C0%AE%C0%AE',
  '%E0%A4%A',
  '..%2F..%2Fhealthz',
  '%D1%95ub_AAAAAAAAAAAAAAAAAAAAAA',
  'sub_' + 'A'.repeat(4000),
];
/** Query values the vault refuses wherever they appear (percent-encoded). */
const UNREADABLE_QUERY_VALUES = ['%00', 'a%00b', '%ED%A0%80', '%ED%B0%80x', '%FF'];

// Node sends one header line per array item; supertest's types allow that for Cookie only.
const twice = (values: string[]) => values as unknown as string;

/** One request written to the TLS socket byte for byte (lines joined with CRLF); the raw answer. */
function exchange(lines: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = tls.connect({ host: 'localhost', port: Number(new URL(vault.url).port), ca: vault.ca, servername: 'localhost' }, () => socket.end(lines.join('\r\n')));
    let text = '';
    socket.on('data', (chunk) => (text += String(chunk)));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

async function expectRequestRefused(op: Operation, context: string, build: () => ReturnType<typeof attack>): Promise<void> {
  const before = await dataFingerprint(vault);
  const res = await build();
  expectRefused(res, context);
  if (op.scope) expectPastAuthentication(res, context);
  expectNothingWritten(before, await dataFingerprint(vault), context);
}

/** Not a 5xx; if refused, a problem with nothing written. A declared parameter with a value the route accepts may be served. */
async function expectHandled(op: Operation, context: string, build: () => ReturnType<typeof attack>): Promise<void> {
  const before = await dataFingerprint(vault);
  const res = await build();
  expect({ context, status: res.status < 500 }).toEqual({ context, status: true });
  if (res.status >= 400) {
    expectRefused(res, context);
    expectNothingWritten(before, await dataFingerprint(vault), context);
  }
}

describe('hostile ids in the path', () => {
  it.each(withPathParameters.map((op) => [op.label, op] as const))('%s refuses every hostile id in each path parameter', async (_label, op) => {
    // One fingerprint around all of them: every one of these requests must be refused, so none may write.
    const before = await dataFingerprint(vault);
    for (const name of op.pathParams) {
      for (const id of HOSTILE_IDS) {
        const context = `${op.label} with ${name}=${id.slice(0, 40)}`;
        const res = await attack(vault, fixtures, op, concretePath(op, fixtures, { [name]: id }));
        expectRefused(res, context);
        if (op.scope) expectPastAuthentication(res, context);
      }
    }
    expectNothingWritten(before, await dataFingerprint(vault), `${op.label} with hostile ids`);
  });
});

describe('hostile query strings', () => {
  it.each(OPERATIONS.map((op) => [op.label, op] as const))('%s refuses NUL, lone surrogates and broken UTF-8 in the query', async (_label, op) => {
    const names = op.queryParams.length ? op.queryParams : ['q'];
    const before = await dataFingerprint(vault);
    for (const name of names) {
      for (const value of UNREADABLE_QUERY_VALUES) {
        const context = `${op.label}?${name}=${value}`;
        expectRefused(await attack(vault, fixtures, op, `${concretePath(op, fixtures)}?${name}=${value}`), context);
      }
    }
    expectNothingWritten(before, await dataFingerprint(vault), `${op.label} with unreadable query values`);
  });

  it.each(OPERATIONS.filter((op) => op.scope && op.queryParams.length === 0).map((op) => [op.label, op] as const))(
    '%s declares no query parameters and refuses one with 400 invalid_query rather than ignore it',
    async (_label, op) => {
      await expectRequestRefused(op, `${op.label}?fields=email`, () => attack(vault, fixtures, op, `${concretePath(op, fixtures)}?fields=email`));
      const res = await attack(vault, fixtures, op, `${concretePath(op, fixtures)}?fields=email`);
      expect([res.status, res.body.code]).toEqual([400, 'invalid_query']);
    },
  );

  it.each(OPERATIONS.filter((op) => op.queryParams.length).map((op) => [op.label, op] as const))(
    '%s handles injection strings, repeats and pollution keys in its query parameters without an error of its own',
    async (_label, op) => {
      for (const name of op.queryParams) {
        for (const value of [...SQL_INJECTIONS, ...LOG_INJECTIONS, ...JSON_FRAGMENTS, '-1', '1e400', '0x10', 'x'.repeat(5000)]) {
          const path = `${concretePath(op, fixtures)}?${name}=${encodeURIComponent(value)}`;
          await expectHandled(op, `${op.label}?${name}=${value.slice(0, 30)}`, () => attack(vault, fixtures, op, path));
        }
        await expectHandled(op, `${op.label} with ${name} twice`, () => attack(vault, fixtures, op, `${concretePath(op, fixtures)}?${name}=1&${name}=2`));
        await expectHandled(op, `${op.label} with ${name}[]`, () => attack(vault, fixtures, op, `${concretePath(op, fixtures)}?${name}[a]=1&__proto__[x]=1&constructor=1`));
      }
    },
  );

  it('refuses audit filters that carry injection text with 400 invalid_query', async () => {
    const op = OPERATIONS.find((o) => o.label === 'GET /v1/admin/audit')!;
    for (const name of ['subject_id', 'client_id', 'purpose', 'action']) {
      for (const value of [...SQL_INJECTIONS.slice(0, 5), ...LOG_INJECTIONS]) {
        const res = await attack(vault, fixtures, op, `${op.template}?${name}=${encodeURIComponent(value)}`);
        expect({ name, value, status: res.status, code: res.body.code }).toEqual({ name, value, status: 400, code: 'invalid_query' });
      }
    }
  });
});

describe('repeated and oversized headers', () => {
  it.each(securedOperations.map((op) => [op.label, op] as const))('%s refuses two Authorization headers, whichever comes first', async (_label, op) => {
    const valid = `Bearer ${fixtures.callers.get(op.scope!)!.token}`;
    for (const pair of [[valid, 'Bearer not-a-token'], ['Bearer not-a-token', valid], [valid, valid]]) {
      const before = await dataFingerprint(vault);
      const req = attack(vault, fixtures, op).set('Authorization', twice(pair));
      const res = await (op.body === 'json' ? req.send(validBody(op, fixtures)) : req);
      expectRefused(res, `${op.label} with two Authorization headers`);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('duplicate_header');
      expectNothingWritten(before, await dataFingerprint(vault), op.label);
    }
  });

  it.each(OPERATIONS.filter((op) => op.body === 'json').map((op) => [op.label, op] as const))('%s refuses two Content-Type headers', async (_label, op) => {
    for (const pair of [['application/json', 'text/plain'], ['text/plain', 'application/json'], ['application/json', 'application/json']]) {
      const before = await dataFingerprint(vault);
      const body = JSON.stringify(validBody(op, fixtures));
      const answer = await exchange([
        `${op.method.toUpperCase()} ${concretePath(op, fixtures)} HTTP/1.1`,
        'Host: localhost',
        `Authorization: Bearer ${fixtures.callers.get(op.scope!)!.token}`,
        ...(op.headerParams.includes('If-Match') ? [`If-Match: ${fixtures.subjectEtag}`] : []),
        ...pair.map((type) => `Content-Type: ${type}`),
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        '',
        body,
      ]);
      expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(answer).toMatch(/content-type: application\/problem\+json/i);
      expectNothingWritten(before, await dataFingerprint(vault), `${op.label} with Content-Type ${pair.join(' + ')}`);
    }
  });

  it('refuses two Idempotency-Key headers on subject creation and creates nothing', async () => {
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/subjects')!;
    for (const pair of [['k-1', 'k-2'], ['k-3', 'k-3']]) {
      await expectRequestRefused(op, `Idempotency-Key ${pair.join(' + ')}`, () => attack(vault, fixtures, op).set('Idempotency-Key', twice(pair)).send(SAMPLE));
    }
  });

  it('refuses two If-Match headers on a subject update and changes nothing', async () => {
    const op = OPERATIONS.find((o) => o.label === 'PATCH /v1/subjects/{id}')!;
    for (const pair of [[fixtures.subjectEtag, fixtures.subjectEtag], [fixtures.subjectEtag, '"999"'], ['"999"', fixtures.subjectEtag]]) {
      await expectRequestRefused(op, `If-Match ${pair.join(' + ')}`, () => attack(vault, fixtures, op).set('If-Match', twice(pair)).send({ name: 'Changed By Two Etags' }));
    }
    const subject = await vault.get(`/v1/subjects/${fixtures.subjectId}`).set('Authorization', auth(fixtures.callers.get('subjects:read')!));
    expect(subject.body.name).toBe(SAMPLE.name);
  });

  it('refuses two If-Match headers on a policy replacement', async () => {
    const op = OPERATIONS.find((o) => o.label === 'PUT /v1/admin/policy')!;
    const current = await vault.get('/v1/admin/policy').set('Authorization', auth(fixtures.callers.get('admin:policy')!)).expect(200);
    await expectRequestRefused(op, 'If-Match twice', () => attack(vault, fixtures, op).set('If-Match', twice(['"1"', '"1"'])).send(current.body.policy));
  });

  it('refuses a malformed Idempotency-Key and If-Match with 4xx', async () => {
    const create = OPERATIONS.find((o) => o.label === 'POST /v1/subjects')!;
    for (const key of ['', ' ', 'a b', 'k\u00e9y', 'x'.repeat(256)]) {
      await expectRequestRefused(create, `Idempotency-Key ${JSON.stringify(key).slice(0, 20)}`, () => attack(vault, fixtures, create).set('Idempotency-Key', key).send(SAMPLE));
    }
    const patch = OPERATIONS.find((o) => o.label === 'PATCH /v1/subjects/{id}')!;
    for (const tag of ['', '"1" OR 1=1', 'W/"0"', '"-1"', '"9999999999999999999999"', `"${'9'.repeat(400)}"`]) {
      await expectRequestRefused(patch, `If-Match ${tag.slice(0, 20)}`, () => attack(vault, fixtures, patch).set('If-Match', tag).send({ name: 'Changed By A Bad Etag' }));
    }
  });

  it('answers headers over the limit with 431 before the app runs, and keeps serving', async () => {
    const op = OPERATIONS.find((o) => o.label === 'GET /v1/subjects/{id}')!;
    const before = await dataFingerprint(vault);
    const res = await attack(vault, fixtures, op).set('X-Filler', 'x'.repeat(20_000));
    expect(res.status).toBe(431);
    const many = await attack(vault, fixtures, op).set(Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`X-H${i}`, 'y'.repeat(50)])));
    expect(many.status).toBe(431);
    expectNothingWritten(before, await dataFingerprint(vault), 'oversized headers');
    await expectAlive(vault);
  });

  it('refuses a request smuggled with both Content-Length and Transfer-Encoding, and keeps serving', async () => {
    const raw = [
      `POST /v1/subjects HTTP/1.1`,
      `Host: localhost`,
      `Authorization: Bearer ${fixtures.callers.get('subjects:write')!.token}`,
      `Content-Type: application/json`,
      `Content-Length: 4`,
      `Transfer-Encoding: chunked`,
      ``,
      `2`,
      `{}`,
      `0`,
      ``,
      ``,
    ].join('\r\n');
    const before = await dataFingerprint(vault);
    const answer = await exchange([raw]);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expectNothingWritten(before, await dataFingerprint(vault), 'CL + TE');
    await expectAlive(vault);
  });
});

describe('a fragment in the request target', () => {
  it.each(securedOperations.map((op) => [op.label, op] as const))('%s refuses a target holding # with 400, acting on nothing', async (_label, op) => {
    const before = await dataFingerprint(vault);
    const body = op.body === 'json' ? JSON.stringify(validBody(op, fixtures)) : '';
    const answer = await exchange([
      `${op.method.toUpperCase()} ${concretePath(op, fixtures)}#/payment-methods/pm_x?limit=1 HTTP/1.1`,
      'Host: localhost',
      `Authorization: Bearer ${fixtures.callers.get(op.scope!)!.token}`,
      ...(op.headerParams.includes('If-Match') ? [`If-Match: ${fixtures.subjectEtag}`] : []),
      ...(body ? ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`] : []),
      'Connection: close',
      '',
      body,
    ]);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(answer).toMatch(/"code":"bad_request"/);
    expect(answer).toMatch(/fragment/);
    expectNothingWritten(before, await dataFingerprint(vault), `${op.label} with #`);
  });
});

describe('a request target in absolute-form', () => {
  // Written without ending the connection's sending side: the vault answers a request it must look up before it answers.
  const send = (target: string) =>
    exchangeText(vault, [`GET ${target} HTTP/1.1`, 'Host: localhost', `Authorization: Bearer ${fixtures.callers.get('subjects:read')!.token}`, 'Connection: close', '', ''].join('\r\n'));

  it.each(['ftp://localhost', 'http://localhost', 'https://reader:secret@localhost'])('%s/… is refused with 400: it names no resource of this vault', async (prefix) => {
    const answer = await send(`${prefix}/v1/subjects/${fixtures.subjectId}`);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(answer).toMatch(/"code":"bad_request"/);
    expect(answer).not.toContain('secret');
  });

  it('OPTIONS * (asterisk-form) goes on to routing: no such resource, not a malformed target', async () => {
    const answer = await exchangeText(vault, ['OPTIONS * HTTP/1.1', 'Host: localhost', 'Connection: close', '', ''].join('\r\n'));
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
  });

  it('for https, without userinfo, is served as its path (RFC 9112 §3.2.2)', async () => {
    const answer = await send(`https://localhost/v1/subjects/${fixtures.subjectId}`);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  });
});

describe('after every bad parameter and header', () => {
  it('is still alive and wrote no attacker text into its logs', async () => {
    await expectAlive(vault);
    expectCleanLogs(vault, [LOG_MARKER]);
  });
});
