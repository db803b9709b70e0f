import { eventually } from '../support/eventually';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, type Caller } from '../vault/support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

const VAULT_ID = /^req_[0-9a-f]{32}$/;
const auditRequestIds = async (subjectId: string) =>
  (await vault.vault.db('audit_events').where({ subject_id: subjectId }).orderBy('seq').select('request_id')).map((row: { request_id: string }) => row.request_id);
const logLineOf = (requestId: string) =>
  vault.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'request' && line.request_id === requestId);

describe('the vault chooses every request id itself', () => {
  it('gives a request that reuses another request id its own id in the response and in the audit trail', async () => {
    const { id } = await createSubject(vault, account);
    const [creation] = await auditRequestIds(id);
    expect(creation).toMatch(VAULT_ID);

    const read = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('X-Request-Id', creation!).expect(200);
    expect(read.headers['x-request-id']).toMatch(VAULT_ID);
    expect(read.headers['x-request-id']).not.toBe(creation);
    expect(await auditRequestIds(id)).toEqual([creation, read.headers['x-request-id']]);
  });

  it('keeps a caller-chosen id only as a correlation id: echoed and logged, never audited', async () => {
    const { id } = await createSubject(vault, account);
    const traceId = '7f3c2a9e-51b4-4c1d-9a6e-0b2d8e4f6a1c';
    const read = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('X-Request-Id', traceId).expect(200);
    const requestId = read.headers['x-request-id'] as string;
    expect(requestId).toMatch(VAULT_ID);
    expect(read.headers['x-correlation-id']).toBe(traceId);
    expect(await vault.vault.db('audit_events').where({ request_id: traceId })).toEqual([]);
    expect(await auditRequestIds(id)).toContain(requestId);
    await eventually(() => logLineOf(requestId) !== undefined, 'the request logged');
    expect(logLineOf(requestId)).toMatchObject({ request_id: requestId, correlation_id: traceId });
  });

  it.each([
    ['a phone number', '14155552671'],
    ['a card number', '4242424242424242'],
    ['a card number beside hex letters', '4242424242424242abc'],
    ['a card number with one more digit', '42424242424242427abc'],
    ['a card number in the shape of a UUID', '42424242-4242-4242-a000-000000000000'],
    ['a name', 'jo-example-1990'],
    ['spaces', 'bad id with spaces'],
  ])('neither echoes nor logs an offered id that could carry anything but an id: %s', async (_label, offered) => {
    const res = await vault.get('/healthz').set('X-Request-Id', offered).expect(200);
    expect(res.headers['x-request-id']).toMatch(VAULT_ID);
    expect(res.headers['x-correlation-id']).toBeUndefined();
    await eventually(() => logLineOf(res.headers['x-request-id'] as string) !== undefined, 'the request logged');
    expect(JSON.stringify(logLineOf(res.headers['x-request-id'] as string))).not.toContain(offered);
  });

  it('echoes a UUID, a vault request id or a hex trace id', async () => {
    for (const offered of ['7F3C2A9E-51B4-4C1D-9A6E-0B2D8E4F6A1C', `req_${'ab12'.repeat(8)}`, '4bf92f3577b34da6a3ce929d0e0e4736']) {
      const res = await vault.get('/healthz').set('X-Request-Id', offered).expect(200);
      expect([res.headers['x-request-id'] === offered, res.headers['x-correlation-id']]).toEqual([false, offered]);
    }
  });
});
