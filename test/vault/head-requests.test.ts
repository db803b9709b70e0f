import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

const auditEventsOf = (subjectId: string) => vault.vault.db('audit_events').where({ subject_id: subjectId }).count({ n: '*' }).then((rows) => Number(rows[0]!.n));

describe('HEAD, which no route declares', () => {
  it('is refused with 405 on a subject, without reading it or writing an audit event', async () => {
    const { id } = await createSubject(vault, account);
    const before = await auditEventsOf(id);
    const res = await vault.unchecked('head', `/v1/subjects/${id}`).set('Authorization', auth(account));
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, PATCH, DELETE');
    expect(await auditEventsOf(id)).toBe(before);
  });

  it('is refused with 405 before any token is asked for, and a token without the scope is not audited as refused', async () => {
    const { id } = await createSubject(vault, account);
    const anonymous = await vault.unchecked('head', `/v1/subjects/${id}`);
    expect([anonymous.status, anonymous.headers.allow]).toEqual([405, 'GET, PATCH, DELETE']);

    const billing = await vault.vault.db('audit_events').count({ n: '*' }).then((rows) => Number(rows[0]!.n));
    const unscoped = await vault.unchecked('head', `/v1/subjects/${id}/payment-methods`).set('Authorization', auth(account));
    expect(unscoped.status).toBe(405);
    expect(await vault.vault.db('audit_events').count({ n: '*' }).then((rows) => Number(rows[0]!.n))).toBe(billing);
  });

  it('is refused with 405 on the health check, whose Allow names only GET', async () => {
    const res = await vault.unchecked('head', '/healthz');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
  });
});
