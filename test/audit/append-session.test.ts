import { chainEvents, chainHash } from '../../src/audit/chain';
import { openDatabase, type Database } from '../../src/store/database';
import { AuditEventStore } from '../../src/store/audit-events';
import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
let single: Database;
beforeAll(async () => {
  vault = await startTestVault();
  // One session in the pool: whatever a failed append leaves on it, the next statement meets.
  single = openDatabase({ ...vault.config.database, poolMax: 1 }, vault.database.url);
});
afterAll(async () => {
  await single.destroy();
  await vault.stop();
});

const stamped = (requestId: string) => ({
  occurredAt: new Date(),
  action: 'subjects.read',
  outcome: 'allowed' as const,
  reason: null,
  clientId: 'cli_session_test',
  purpose: null,
  scopes: [],
  subjectId: null,
  fields: {},
  policyVersion: null,
  requestId,
  sourceAddress: null,
  target: null,
});

const countOf = async (requestId: string) =>
  Number((await vault.vault.db('audit_events').where({ request_id: requestId }).count<{ n: string }[]>('* as n'))[0]!.n);

describe('an audit group commit on its session', () => {
  it('rolls a refused group back whole and leaves the session outside any transaction', async () => {
    const store = new AuditEventStore(single);
    const head = await store.head();
    await vault.vault.db.raw("create function pdvault_test_refuse() returns trigger language plpgsql as $$ begin if new.request_id = 'req_refused_2' then raise exception 'refused'; end if; return new; end $$");
    await vault.vault.db.raw('create trigger pdvault_test_refuse before insert on audit_events for each row execute function pdvault_test_refuse()');
    try {
      await expect(store.appendChained((locked) => chainEvents(locked, [stamped('req_refused_1'), stamped('req_refused_2')]))).rejects.toThrow('refused');
    } finally {
      await vault.vault.db.raw('drop trigger pdvault_test_refuse on audit_events');
      await vault.vault.db.raw('drop function pdvault_test_refuse()');
    }
    expect(await countOf('req_refused_1')).toBe(0);
    expect(await store.head()).toEqual(head);
    // The pool's only session answers outside a transaction (an aborted one would refuse every statement).
    const state = await single.raw<{ rows: Array<{ open: boolean }> }>("select now() <> statement_timestamp() as open");
    expect(state.rows[0]!.open).toBe(false);
    await store.appendChained((locked) => chainEvents(locked, [stamped('req_after_refusal')]));
    expect(await countOf('req_after_refusal')).toBe(1);
  });

  it('moves the head to the last event it appended', async () => {
    const store = new AuditEventStore(single);
    let chained: ReturnType<typeof chainEvents> = [];
    await store.appendChained((locked) => (chained = chainEvents(locked, [stamped('req_head_1'), stamped('req_head_2')])));
    const head = await store.head();
    expect(head.seq).toBe(chained[1]!.seq);
    expect(head.hash.equals(chained[1]!.hash)).toBe(true);
  });

  it('stores every member as the chain wrote it, so the stored row hashes to its own hash', async () => {
    const store = new AuditEventStore(single);
    const event = { ...stamped('req_members_1'), outcome: 'denied' as const, reason: 'subject_opted_out', purpose: 'newsletter', scopes: ['emails:resolve', 'subjects:email'], subjectId: 'sub_members', fields: { email: 'plain', name: 'absent' }, policyVersion: 7, sourceAddress: '::1', target: 'pm_members' };
    let chained: ReturnType<typeof chainEvents> = [];
    await store.appendChained((locked) => (chained = chainEvents(locked, [event])));
    const stored = await store.findBySeq(chained[0]!.seq);
    const { canonical: _canonical, ...expected } = chained[0]!;
    expect(stored).toEqual(expected);
    expect(chainHash(stored!.prevHash, stored!).equals(stored!.hash)).toBe(true);
  });

  it('appends in one statement, without taking the lock, while it is the only writer', async () => {
    const store = new AuditEventStore(single);
    await store.appendChained((locked) => chainEvents(locked, [stamped('req_alone_1')]));
    const statements = statementsOf(single);
    try {
      await store.appendChained((head) => chainEvents(head, [stamped('req_alone_2'), stamped('req_alone_3')]));
    } finally {
      statements.stop();
    }
    expect(statements.seen).toHaveLength(1);
    expect(statements.seen[0]).not.toMatch(/\bbegin\b|for update/i);
    expect(await countOf('req_alone_2')).toBe(1);
    expect(await countOf('req_alone_3')).toBe(1);
    await expectChainIntact();
  });

  it('chains after the events another instance appended meanwhile, never beside them', async () => {
    const mine = new AuditEventStore(single);
    const theirs = new AuditEventStore(vault.vault.db);
    await mine.appendChained((head) => chainEvents(head, [stamped('req_mine_1')]));
    let theirRows: ReturnType<typeof chainEvents> = [];
    await theirs.appendChained((head) => (theirRows = chainEvents(head, [stamped('req_theirs_1'), stamped('req_theirs_2')])));
    let myRows: ReturnType<typeof chainEvents> = [];
    await mine.appendChained((head) => (myRows = chainEvents(head, [stamped('req_mine_2')])));
    expect(myRows[0]!.seq).toBe(theirRows[1]!.seq + 1);
    expect(myRows[0]!.prevHash.equals(theirRows[1]!.hash)).toBe(true);
    expect(await countOf('req_mine_2')).toBe(1);
    await expectChainIntact();
  });

  it('writes nothing and leaves the head where it was when an append without the lock is refused', async () => {
    const store = new AuditEventStore(single);
    await store.appendChained((head) => chainEvents(head, [stamped('req_before_refusal')]));
    const head = await store.head();
    await vault.vault.db.raw("create function pdvault_test_refuse_after() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$");
    await vault.vault.db.raw('create trigger pdvault_test_refuse_after before insert on audit_events for each row execute function pdvault_test_refuse_after()');
    try {
      await expect(store.appendChained((known) => chainEvents(known, [stamped('req_refused_after')]))).rejects.toThrow('refused');
    } finally {
      await vault.vault.db.raw('drop trigger pdvault_test_refuse_after on audit_events');
      await vault.vault.db.raw('drop function pdvault_test_refuse_after()');
    }
    expect(await countOf('req_refused_after')).toBe(0);
    expect(await store.head()).toEqual(head);
    await store.appendChained((known) => chainEvents(known, [stamped('req_after_refused_after')]));
    expect(await countOf('req_after_refused_after')).toBe(1);
    await expectChainIntact();
  });
});

/** The statements `db` sends until `stop()`. */
function statementsOf(db: Database) {
  const seen: string[] = [];
  const listener = (query: { sql: string }) => seen.push(query.sql);
  db.on('query', listener);
  return { seen, stop: () => db.off('query', listener) };
}

async function expectChainIntact() {
  const verification = await vault.vault.audit.trail.verify({ clientId: 'cli_verifier000000', scopes: ['audit:read'], requestId: 'req_verify_session' });
  expect(verification).toMatchObject({ ok: true, first_broken_seq: null });
}
