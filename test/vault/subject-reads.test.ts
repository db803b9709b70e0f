import { startSecondInstance } from '../identity/support/identity-helpers';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, mailer, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

/** The SQL the instance sends while `during` runs. */
async function statementsDuring(db: TestVault['vault']['db'], during: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (query: { sql: string }) => seen.push(query.sql);
  db.on('query', listener);
  try {
    await during();
  } finally {
    db.removeListener('query', listener);
  }
  return seen;
}

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
