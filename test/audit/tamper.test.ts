import { chainHash } from '../../src/audit/chain';
import type { Database } from '../../src/store/database';
import { startTestVault, type TestVault } from '../support/test-vault';
import { adminCaller, bearer, type Caller } from '../policy/support/principals';
import { startSecondInstance } from '../identity/support/identity-helpers';

let vault: TestVault;
let auditor: Caller;
beforeEach(async () => {
  vault = await startTestVault();
  auditor = await adminCaller(vault, ['audit:read']);
  // Ten events of known content after whatever setting up wrote.
  await vault.vault.audit.writer.append(
    Array.from({ length: 10 }, (_, i) => ({ action: 'subjects.read', outcome: 'allowed' as const, subjectId: `sub_drill${i}`, fields: { name: 'plain' }, requestId: `req_drill_${i}` })),
  );
});
afterEach(() => vault.stop());

/**
 * Tampering as someone with SQL access would: the test database's role is a superuser, which
 * the triggers still stop, so the drill turns them off for its own transaction only.
 */
async function tamper(sql: (trx: Database) => Promise<unknown>): Promise<void> {
  await vault.vault.db.transaction(async (trx) => {
    await trx.raw('set local session_replication_role = replica');
    await sql(trx);
  });
}

const verify = async () => (await vault.get('/v1/admin/audit/verify').set(bearer(auditor)).expect(200)).body;
const seqOf = async (requestId: string) => Number((await vault.vault.db('audit_events').where({ request_id: requestId }).first()).seq);

describe('the audit trail', () => {
  it('verifies intact', async () => {
    const result = await verify();
    expect(result).toMatchObject({ ok: true, first_broken_seq: null, problem: null });
    expect(result.events_verified).toBe(result.head_seq);
  });

  it('refuses UPDATE, DELETE and TRUNCATE, even to a superuser', async () => {
    const db = vault.vault.db;
    await vault.vault.audit.checkpoints.signNow();
    await expect(db('audit_events').update({ reason: 'x' })).rejects.toThrow(/append-only/);
    await expect(db('audit_events').delete()).rejects.toThrow(/append-only/);
    await expect(db.raw('truncate audit_events')).rejects.toThrow(/append-only/);
    await expect(db('audit_checkpoints').delete()).rejects.toThrow(/append-only/);
  });

  it('has UPDATE, DELETE and TRUNCATE revoked on its tables', async () => {
    const { rows } = await vault.vault.db.raw(
      "select privilege_type from information_schema.role_table_grants where table_name = 'audit_events' and grantee = 'PUBLIC'",
    );
    expect(rows).toEqual([]);
  });
});

describe('tamper drills: verification reports the first broken sequence number of', () => {
  it('an edited event', async () => {
    const seq = await seqOf('req_drill_4');
    await tamper((trx) => trx('audit_events').where({ seq }).update({ outcome: 'denied', reason: 'subject_opted_out' }));
    expect(await verify()).toMatchObject({ ok: false, first_broken_seq: seq, problem: 'hash_mismatch' });
  });

  it('a deleted event', async () => {
    const seq = await seqOf('req_drill_4');
    await tamper((trx) => trx('audit_events').where({ seq }).delete());
    expect(await verify()).toMatchObject({ ok: false, first_broken_seq: seq, problem: 'sequence_gap' });
  });

  it('a forged event appended with a correctly computed hash', async () => {
    const head = await vault.vault.db('audit_chain_head').first();
    const forged = {
      seq: Number(head.seq) + 1,
      occurredAt: new Date(),
      action: 'subjects.read',
      outcome: 'allowed' as const,
      reason: null,
      clientId: 'cli_innocentclient00',
      purpose: 'shipping',
      scopes: ['subjects:read'],
      subjectId: 'sub_framed',
      fields: { name: 'plain' },
      policyVersion: 1,
      requestId: 'req_forged',
      sourceAddress: '10.0.0.1',
      target: null,
    };
    const hash = chainHash(head.hash, forged);
    await tamper((trx) =>
      trx('audit_events').insert({
        seq: forged.seq, occurred_at: forged.occurredAt, action: forged.action, outcome: forged.outcome, client_id: forged.clientId,
        purpose: forged.purpose, scopes: forged.scopes, subject_id: forged.subjectId, fields: JSON.stringify(forged.fields), policy_version: 1,
        request_id: forged.requestId, source_address: forged.sourceAddress, prev_hash: head.hash, hash,
      }),
    );
    expect(await verify()).toMatchObject({ ok: false, first_broken_seq: forged.seq, problem: 'head_mismatch' });
    // The forged row sits where the next event belongs: the writers fail closed until it is dealt with.
    await expect(vault.vault.audit.writer.append([{ action: 'subjects.read', outcome: 'allowed' }])).rejects.toMatchObject({ code: 'audit_unavailable' });
  });

  it('two swapped events', async () => {
    const [a, b] = [await seqOf('req_drill_3'), await seqOf('req_drill_6')];
    await tamper(async (trx) => {
      await trx('audit_events').where({ seq: a }).update({ seq: 999_999_999 });
      await trx('audit_events').where({ seq: b }).update({ seq: a });
      await trx('audit_events').where({ seq: 999_999_999 }).update({ seq: b });
    });
    expect(await verify()).toMatchObject({ ok: false, first_broken_seq: a, problem: 'hash_mismatch' });
  });

  it('the newest events deleted, with the chain head rewound to match, against the latest signed checkpoint', async () => {
    const checkpoint = await vault.vault.audit.checkpoints.signNow();
    expect(checkpoint).toBeDefined();
    const firstDeleted = await seqOf('req_drill_7');
    const kept = await vault.vault.db('audit_events').where({ seq: firstDeleted - 1 }).first();
    await tamper(async (trx) => {
      await trx('audit_events').where('seq', '>=', firstDeleted).delete();
      await trx('audit_chain_head').update({ seq: kept.seq, hash: kept.hash });
    });
    const result = await verify();
    expect(result).toMatchObject({ ok: false, first_broken_seq: firstDeleted, problem: 'events_missing_after_checkpoint' });
  });

  it('a forged checkpoint', async () => {
    await vault.vault.audit.checkpoints.signNow();
    const [latest] = await vault.vault.db('audit_checkpoints').orderBy('id', 'desc').limit(1);
    await tamper((trx) => trx('audit_checkpoints').insert({ seq: latest.seq, hash: latest.hash, signed_at: new Date(), kid: latest.kid, signature: Buffer.alloc(64, 1) }));
    expect(await verify()).toMatchObject({ ok: false, problem: 'checkpoint_signature_invalid' });
  });
});

describe('checkpoints', () => {
  it('are signed only over a chain that links up', async () => {
    const seq = await seqOf('req_drill_2');
    await tamper((trx) => trx('audit_events').where({ seq }).update({ reason: 'edited' }));
    expect(await vault.vault.audit.checkpoints.signNow()).toBeUndefined();
  });

  it('cover the head, and verification counts the events after the latest one', async () => {
    const checkpoint = await vault.vault.audit.checkpoints.signNow();
    await vault.vault.audit.writer.append([{ action: 'subjects.read', outcome: 'allowed', requestId: 'req_after_checkpoint' }]);
    const result = await verify();
    expect(result).toMatchObject({ ok: true, latest_checkpoint: { seq: checkpoint!.seq, kid: checkpoint!.kid } });
    expect(result.unsigned_events).toBe(result.events_verified - checkpoint!.seq);
  });
});

describe('a verification on a pool of one session', () => {
  it('reads the checkpoints in the snapshot it walks the events in, on its own session', async () => {
    await vault.vault.audit.checkpoints.signNow();
    const second = await startSecondInstance(vault, (config) => {
      config.database.poolMax = 1;
    });
    try {
      // With the checkpoints read on the pool beside its transaction, it waits out the pool's acquire timeout: 503.
      const res = await second.call('get', '/v1/admin/audit/verify').set(bearer(auditor)).expect(200);
      expect(res.body).toMatchObject({ ok: true, latest_checkpoint: expect.objectContaining({ kid: expect.any(String) }) });
    } finally {
      await second.stop();
    }
  });
});

describe('a checkpoint signed on a pool of one session', () => {
  it('is signed: every statement of the signing runs on its transaction\'s own session', async () => {
    const second = await startSecondInstance(vault, (config) => {
      config.database.poolMax = 1;
    });
    try {
      await vault.vault.audit.writer.append([{ action: 'subjects.read', outcome: 'allowed', requestId: 'req_pool_of_one' }]);
      // With a statement on the pool beside the transaction, it waits out the pool's acquire timeout and fails.
      await expect(second.vault.audit.checkpoints.signNow()).resolves.toMatchObject({ seq: await seqOf('req_pool_of_one') });
      const [latest] = await vault.vault.db('audit_checkpoints').orderBy('id', 'desc').limit(1);
      expect(Number(latest.seq)).toBe(await seqOf('req_pool_of_one'));
    } finally {
      await second.stop();
    }
  });
});
