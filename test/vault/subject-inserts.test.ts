import { Client } from 'pg';
import { SubjectStore } from '../../src/store/subjects';
import { newSubjectId } from '../../src/vault/ids';
import { statementsDuring } from '../support/statements';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

/** A creation as the domain asks the store for one: a new id, its prepared key, an email sealed under it. */
async function creation(email: string, externalId?: string) {
  const id = newSubjectId();
  const prepared = await vault.vault.keys.prepareSubjectKey(id);
  const changes = { externalId: externalId ?? null, sealed: { email: vault.vault.keys.sealUnderPrepared(prepared, 'email', email) } };
  return { id, email, changes, key: vault.vault.keys.subjectKeyRowOf(prepared) };
}

const insertsOf = (statements: string[]) => statements.filter((sql) => sql.includes('insert into subjects'));
const readEmail = async (id: string) => (await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200)).body.email;

describe('creations asked for in the same turn', () => {
  it('go to the database as one statement, and each subject is stored with its own key', async () => {
    const store = new SubjectStore(vault.vault.db);
    const made = await Promise.all(['one', 'two', 'three'].map((name) => creation(`${name}@together.example.com`)));
    let records: Awaited<ReturnType<SubjectStore['insertWithKey']>>[] = [];
    const statements = await statementsDuring(vault.vault.db, async () => {
      records = await Promise.all(made.map(({ id, changes, key }) => store.insertWithKey(id, changes, key)));
    });
    expect(insertsOf(statements)).toHaveLength(1);
    expect(records.map((record) => record.id)).toEqual(made.map(({ id }) => id));
    // Read by the vault, which has none of these keys in memory: each opens under its own stored key.
    for (const { id, email } of made) expect(await readEmail(id)).toBe(email);
  });

  it('answer each for itself when one breaks a constraint: the one refused leaves neither subject nor key, the others are stored with theirs', async () => {
    const store = new SubjectStore(vault.vault.db);
    // Two creations of one id (which ids drawn at random never are): the shared statement breaks its primary key.
    const first = await creation('a@clash.example.com');
    const twin = { ...(await creation('b@clash.example.com')), id: first.id };
    twin.key = { ...twin.key, subjectId: first.id };
    const third = await creation('c@clash.example.com');
    let outcomes: PromiseSettledResult<unknown>[] = [];
    const statements = await statementsDuring(vault.vault.db, async () => {
      outcomes = await Promise.allSettled([first, twin, third].map(({ id, changes, key }) => store.insertWithKey(id, changes, key)));
    });
    // The shared statement, refused whole; then each alone.
    expect(insertsOf(statements)).toHaveLength(4);
    const clashing = outcomes.slice(0, 2);
    expect(clashing.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(clashing.find((outcome) => outcome.status === 'rejected')).toEqual({ status: 'rejected', reason: expect.objectContaining({ code: '23505' }) });
    expect(outcomes[2]!.status).toBe('fulfilled');
    expect(await vault.vault.db('subject_keys').whereIn('subject_id', [first.id, third.id]).count('* as n').first()).toEqual({ n: '2' });
    expect(await readEmail(third.id)).toBe('c@clash.example.com');
  });

  it('with an external id go alone, since the unique check may wait on another transaction; the others still share one', async () => {
    const store = new SubjectStore(vault.vault.db);
    const stamp = Date.now();
    const made = await Promise.all([creation('x1@alone.example.com', `alone-${stamp}-1`), creation('x2@alone.example.com', `alone-${stamp}-2`), creation('s1@alone.example.com'), creation('s2@alone.example.com')]);
    const statements = await statementsDuring(vault.vault.db, () => Promise.all(made.map(({ id, changes, key }) => store.insertWithKey(id, changes, key))));
    expect(insertsOf(statements)).toHaveLength(3);
    for (const { id, email } of made) expect(await readEmail(id)).toBe(email);
  });
});

describe('concurrent creations over the API', () => {
  it('are each answered 201 with a subject of their own, but the second of two with one external id, 409', async () => {
    const externalId = `api-${Date.now()}`;
    const bodies = Array.from({ length: 20 }, (_, i) => ({ email: `n${i}@concurrent.example.com`, name: `Name ${i}`, ...(i < 2 ? { external_id: externalId } : {}) }));
    const answers = await Promise.all(bodies.map((body) => vault.post('/v1/subjects').set('Authorization', auth(account)).send(body).then((res) => res)));
    expect(answers.slice(0, 2).map((res) => res.status).sort()).toEqual([201, 409]);
    expect(answers.slice(0, 2).find((res) => res.status === 409)!.body.code).toBe('external_id_taken');
    expect(answers.slice(2).map((res) => res.status)).toEqual(Array(18).fill(201));
    const created = answers.filter((res) => res.status === 201);
    expect(new Set(created.map((res) => res.body.id)).size).toBe(19);
    // Each answered with the subject its own body made.
    answers.forEach((res, i) => {
      if (res.status === 201) expect([res.body.email, res.body.name]).toEqual([bodies[i]!.email, bodies[i]!.name]);
    });
    for (const res of created) expect(await readEmail(res.body.id)).toBe(res.body.email);
  });
});

describe('a creation that waits on another transaction holding its external id', () => {
  let slow: TestVault;
  beforeAll(async () => {
    slow = await startTestVault({ PDVAULT_DB_STATEMENT_TIMEOUT_MS: '1000' });
  });
  afterAll(() => slow?.stop());

  it('holds up none of the creations of its moment: only it is refused, after the statement timeout', async () => {
    const store = new SubjectStore(slow.vault.db);
    const externalId = `held-${Date.now()}`;
    const make = async (email: string, external?: string) => {
      const id = newSubjectId();
      const prepared = await slow.vault.keys.prepareSubjectKey(id);
      return { id, changes: { externalId: external ?? null, sealed: { email: slow.vault.keys.sealUnderPrepared(prepared, 'email', email) } }, key: slow.vault.keys.subjectKeyRowOf(prepared) };
    };
    // Another session inserts the same external id and holds its transaction open: a creation of it waits to know whether it commits.
    const holding = await make('holder@wait.example.com', externalId);
    const holder = new Client({ connectionString: slow.database.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query("insert into subjects (id, external_id, preferences) values ($1, $2, '{}')", [holding.id, externalId]);
      const [waiting, free1, free2] = await Promise.all([make('w@wait.example.com', externalId), make('f1@wait.example.com'), make('f2@wait.example.com')]);
      const outcomes = await Promise.allSettled([waiting!, free1!, free2!].map(({ id, changes, key }) => store.insertWithKey(id, changes, key)));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
      expect((outcomes[0] as PromiseRejectedResult).reason).toMatchObject({ code: '57014' });
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  });
});
