import { exchange, type RawAnswer } from '../support/raw-https';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, SAMPLE } from '../vault/support/data-callers';

/** The answer is a complete problem+json response that closes the connection and repeats nothing of the request. */
function expectProblem(answer: RawAnswer, status: number, code: string): void {
  expect(answer.statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(answer.headers.connection).toBe('close');
  expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(JSON.parse(answer.body)).toEqual({ type: `urn:pdvault:problem:${code}`, title: expect.any(String), status, code });
  expect(JSON.stringify(answer)).not.toContain('canary');
}

describe('requests Node refuses before the app runs are answered as problems', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault();
  });
  afterAll(() => vault.stop());

  it('answers a header section over the limit with 431 headers_too_large', async () => {
    const answer = await exchange(vault, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Canary: canary-${'x'.repeat(20_000)}\r\n\r\n`);
    expectProblem(answer, 431, 'headers_too_large');
    await vault.get('/healthz').expect(200);
  });

  it('answers an HTTP/1.1 request without a Host header with 400 bad_request from the app, with its request id', async () => {
    const answer = await exchange(vault, 'GET /healthz HTTP/1.1\r\nX-Canary: canary\r\nConnection: close\r\n\r\n');
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, code: 'bad_request', request_id: answer.headers['x-request-id'] });
    expect(JSON.stringify(answer)).not.toContain('canary');
  });

  it.each([
    ['with both Transfer-Encoding and Content-Length', 'POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n'],
    ['with two different Content-Length headers', 'POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'],
    ['that is not HTTP at all', 'canary canary canary\r\n\r\n'],
  ])('answers a request %s with 400 bad_request', async (_label, request) => {
    expectProblem(await exchange(vault, request), 400, 'bad_request');
  });
});

describe('subject creations sent as raw bytes', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault();
  });
  afterAll(() => vault.stop());

  const countSubjects = async () => Number((await vault.vault.db('subjects').count({ n: '*' }))[0]!.n);

  /** POST /v1/subjects as the account service: the header section, then `framing` (the body and how its length is told). */
  async function creation(framing?: string): Promise<string> {
    const head = `POST /v1/subjects HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${auth(await accountService(vault))}\r\nContent-Type: application/json\r\n`;
    if (framing !== undefined) return head + framing;
    const body = JSON.stringify(SAMPLE);
    return `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }

  describe('with bytes the parser refuses behind them on the same connection', () => {
    it('leave the request before them answered with its own outcome, then the connection closes', async () => {
      const before = await countSubjects();
      // Not a request line: the parser refuses it while the creation is still running.
      const answer = await exchange(vault, `${await creation()}canary canary\r\n\r\n`);
      // The client is told what happened to the request it sent: created, not "bad request".
      expect(answer.statusLine).toMatch(/^HTTP\/1\.1 201 /);
      expect(answer.headers.location).toMatch(/^\/v1\/subjects\/sub_/);
      expect(await countSubjects()).toBe(before + 1);
      expect(JSON.stringify(answer)).not.toContain('canary');
    });

    it('answer every whole request queued before them, in order, then close', async () => {
      const before = await countSubjects();
      const answer = await exchange(vault, `${await creation()}${await creation()}canary canary\r\n\r\n`);
      const statusLines = `${answer.statusLine}\r\n${answer.body}`.match(/HTTP\/1\.1 \d{3}/g);
      expect(statusLines).toEqual(['HTTP/1.1 201', 'HTTP/1.1 201']);
      expect(await countSubjects()).toBe(before + 2);
    });
  });

  describe('with an empty body, however it is framed', () => {
    it.each([
      ['Content-Length: 0', 'Content-Length: 0\r\n\r\n'],
      ['chunked, with no chunk', 'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ])('is no subject (%s): 422, nothing created', async (_label, framing) => {
      const before = await countSubjects();
      const answer = await exchange(vault, await creation(`Connection: close\r\n${framing}`));
      expect(answer.statusLine).toMatch(/^HTTP\/1\.1 422 /);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'validation_failed', errors: [{ pointer: '', detail: 'the subject must be a JSON object' }] });
      expect(await countSubjects()).toBe(before);
    });
  });
});

describe('a request that does not arrive in time', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault({ PDVAULT_HEADERS_TIMEOUT_MS: '300', PDVAULT_REQUEST_TIMEOUT_MS: '1500' });
  });
  afterAll(() => vault.stop());

  it('is answered with 408 request_timeout', async () => {
    // The header section never ends: the vault gives up on it and says so.
    expectProblem(await exchange(vault, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Canary: canary\r\n'), 408, 'request_timeout');
  });

  it('is answered with 408 request_timeout when its body stops short', async () => {
    // A caller the route admits: only then is its body read.
    const account = await accountService(vault);
    const request = `POST /v1/subjects HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${auth(account)}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"canary": "ca`;
    expectProblem(await exchange(vault, request), 408, 'request_timeout');
  });
});
