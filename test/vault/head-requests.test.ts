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

  it('is refused with 405 on the health check, whose Allow names only GET', async () => {
    const res = await vault.unchecked('head', '/healthz');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
  });
});
