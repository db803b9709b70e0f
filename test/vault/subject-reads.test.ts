import { startSecondInstance } from '../identity/support/identity-helpers';
import { SubjectStore } from '../../src/store/subjects';
import { statementsDuring } from '../support/statements';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, mailer, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

describe('reading subjects whose keys are not in memory', () => {
  it('brings the wrapped key with the row in one query, then serves the key from memory', async () => {
    const { id } = await createSubject(vault, account, { email: 'cold@example.com' });
    const transactional = await mailer(vault, 'transactional_email');
    // A fresh instance has never seen this subject: its key cache is cold.
    const second = await startSecondInstance(vault);
    try {
      const resolve = () => second.call('get', `/v1/subjects/${id}/email`).set('Authorization', auth(transactional)).expect(200, { subject_id: id, email: 'cold@example.com' });
      const cold = (await statementsDuring(second.vault.db, resolve)).filter((sql) => sql.includes('subject_keys'));
      expect(cold).toHaveLength(1);
      expect(cold[0]).toContain('from subjects');
      const warm = (await statementsDuring(second.vault.db, resolve)).filter((sql) => sql.includes('subject_keys'));
      expect(warm).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  it('resolves a batch of cold subjects with their keys in the same query', async () => {
    const subjects = await Promise.all(['a', 'b', 'c'].map((name) => createSubject(vault, account, { email: `${name}@cold.example.com` })));
    const transactional = await mailer(vault, 'transactional_email');
    const second = await startSecondInstance(vault);
    try {
      let body: { results: Array<{ subject_id: string; email?: string }> } | undefined;
      const statements = await statementsDuring(second.vault.db, async () => {
        body = (await second.call('post', '/v1/emails/resolve').set('Authorization', auth(transactional)).send({ subject_ids: subjects.map((s) => s.id) }).expect(200)).body;
      });
      expect(body!.results.map((r) => r.email)).toEqual(['a@cold.example.com', 'b@cold.example.com', 'c@cold.example.com']);
      expect(statements.filter((sql) => sql.includes('subject_keys'))).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it('answers 404 for an erased subject on an instance that held its key', async () => {
    const { id } = await createSubject(vault, account, { email: 'gone@example.com' });
    const transactional = await mailer(vault, 'transactional_email');
    const second = await startSecondInstance(vault);
    try {
      await second.call('get', `/v1/subjects/${id}/email`).set('Authorization', auth(transactional)).expect(200);
      await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(204);
      const res = await second.call('get', `/v1/subjects/${id}/email`).set('Authorization', auth(transactional)).expect(404);
      expect(res.text).not.toContain('gone@example.com');
    } finally {
      await second.stop();
    }
  });
});

describe('reads asked for in the same turn', () => {
  it('go to the database as one statement, each caller answered with its own subjects and keys only', async () => {
    const subjects = await Promise.all(['p', 'q', 'r'].map((name) => createSubject(vault, account, { email: `${name}@turn.example.com`, name: name.toUpperCase() })));
    const [p, q, r] = subjects.map((subject) => subject.id) as [string, string, string];
    const store = new SubjectStore(vault.vault.db);
    let answers: Array<Awaited<ReturnType<SubjectStore['findFieldsWithKeys']>>> = [];
    const statements = await statementsDuring(vault.vault.db, async () => {
      answers = await Promise.all([
        store.findFieldsWithKeys([p], new Set([p]), ['email']),
        store.findFieldsWithKeys([q, 'sub_unknown'], new Set(), ['email']),
        store.findFieldsWithKeys([r, p], new Set([r]), ['email']),
      ]);
    });
    expect(statements.filter((sql) => sql.includes('from subjects'))).toHaveLength(1);

    const [first, second, third] = answers as [(typeof answers)[0], (typeof answers)[0], (typeof answers)[0]];
    expect([...first.records.keys()]).toEqual([p]);
    expect(first.keyRows.map((row) => row.subjectId)).toEqual([p]);
    expect([...second.records.keys()]).toEqual([q]);
    expect(second.keyRows).toEqual([]);
    expect([...third.records.keys()].sort()).toEqual([r, p].sort());
    expect(third.keyRows.map((row) => row.subjectId)).toEqual([r]);
    // Only the sealed column asked for comes back.
    expect(Object.keys(first.records.get(p)!.sealed)).toEqual(['email']);
  });

  it('are split into statements of at most 2,000 ids, each caller still answered in full', async () => {
    const { id } = await createSubject(vault, account, { email: 'split@turn.example.com' });
    const store = new SubjectStore(vault.vault.db);
    const unknown = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `sub_${tag}${String(i).padStart(18, '0')}`);
    let answers: Array<Awaited<ReturnType<SubjectStore['findFieldsWithKeys']>>> = [];
    const statements = await statementsDuring(vault.vault.db, async () => {
      answers = await Promise.all([
        store.findFieldsWithKeys([...unknown(1500, 'a'), id], new Set(), ['email']),
        store.findFieldsWithKeys(unknown(1500, 'b'), new Set(), ['email']),
        store.findFieldsWithKeys([id], new Set(), ['email']),
      ]);
    });
    // 1,501 and 1,500 ids cannot share a statement; the last read joins the second.
    expect(statements.filter((sql) => sql.includes('from subjects'))).toHaveLength(2);
    expect(answers.map((answer) => [...answer.records.keys()])).toEqual([[id], [], [id]]);
  });

  it('of different fields go as separate statements, each with its own columns', async () => {
    const { id } = await createSubject(vault, account, { email: 'shapes@turn.example.com', name: 'Shapes' });
    const store = new SubjectStore(vault.vault.db);
    let emailOnly: Awaited<ReturnType<SubjectStore['findFieldsWithKeys']>> | undefined;
    let nameOnly: Awaited<ReturnType<SubjectStore['findFieldsWithKeys']>> | undefined;
    const statements = await statementsDuring(vault.vault.db, async () => {
      [emailOnly, nameOnly] = await Promise.all([store.findFieldsWithKeys([id], new Set(), ['email']), store.findFieldsWithKeys([id], new Set(), ['name'])]);
    });
    expect(statements.filter((sql) => sql.includes('from subjects'))).toHaveLength(2);
    expect(Object.keys(emailOnly!.records.get(id)!.sealed)).toEqual(['email']);
    expect(Object.keys(nameOnly!.records.get(id)!.sealed)).toEqual(['name']);
  });

  it('fail together when their statement fails, and the next turn reads again', async () => {
    const { id } = await createSubject(vault, account, { email: 'fails@turn.example.com' });
    const store = new SubjectStore(vault.vault.db);
    // Two ids that are not text in a text[] parameter: PostgreSQL refuses the one statement both joined.
    const failing = Promise.allSettled([store.findFieldsWithKeys([id], new Set(), ['email']), store.findFieldsWithKeys(['\u0000'], new Set(), ['email'])]);
    const outcomes = await failing;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    const again = await store.findFieldsWithKeys([id], new Set(), ['email']);
    expect([...again.records.keys()]).toEqual([id]);
  });
});
