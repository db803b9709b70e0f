import { chainEvents } from '../../src/audit/chain';
import { AuditWriter } from '../../src/audit/writer';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { AuditEventStore } from '../../src/store/audit-events';
import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
});
afterAll(() => vault.stop());

const quiet = createLogger('silent');
const settings = { commitIntervalMs: 2, maxBatch: 1000, queueLimit: 10_000 };

/** A writer on the vault's database whose store counts the transactions it runs. */
function countingWriter(limits = settings) {
  const store = new AuditEventStore(vault.vault.db);
  let transactions = 0;
  const appendChained = store.appendChained.bind(store);
  store.appendChained = (build) => {
    transactions += 1;
    return appendChained(build);
  };
  return { writer: new AuditWriter(store, limits, quiet), transactions: () => transactions };
}

const event = (n: number) => ({ action: 'subjects.read', outcome: 'allowed' as const, clientId: `cli_test${n}`, subjectId: `sub_${n}`, fields: { name: 'plain' }, requestId: `req_writer_${n}` });

describe('the audit writer', () => {
  it('commits the events of concurrent requests together, in one gap-free chain', async () => {
    const { writer, transactions } = countingWriter();
    const before = await vault.vault.db('audit_events').max('seq as max').first();
    await Promise.all(Array.from({ length: 200 }, (_, i) => writer.append([event(i)])));
    expect(transactions()).toBeLessThan(200);
    const rows = await vault.vault.db('audit_events').where('seq', '>', Number(before?.max ?? 0)).orderBy('seq');
    expect(rows).toHaveLength(200);
    rows.forEach((row, i) => expect(Number(row.seq)).toBe(Number(before?.max ?? 0) + i + 1));
    await writer.stop();
  });

  it('resolves only once its events can be read by another connection', async () => {
    const { writer } = countingWriter();
    await writer.append([{ ...event(1), requestId: 'req_durable_1' }]);
    const seen = await vault.vault.db.raw("select count(*)::int as n from audit_events where request_id = 'req_durable_1'");
    expect(seen.rows[0].n).toBe(1);
    await writer.stop();
  });

  it('keeps one linear chain when two instances append at once', async () => {
    const a = countingWriter();
    const b = countingWriter();
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).writer.append([event(i), event(i + 1000)])));
    const verification = await vault.vault.audit.trail.verify({ clientId: 'cli_verifier000000', scopes: ['audit:read'], requestId: 'req_verify_linear' });
    expect(verification).toMatchObject({ ok: true, first_broken_seq: null });
    await Promise.all([a.writer.stop(), b.writer.stop()]);
  });

  it('splits a backlog larger than one batch over several commits', async () => {
    const { writer, transactions } = countingWriter({ ...settings, maxBatch: 10 });
    await Promise.all(Array.from({ length: 35 }, (_, i) => writer.append([event(i)])));
    expect(transactions()).toBeGreaterThanOrEqual(4);
    await writer.stop();
  });

  it('fails every request of a failed commit with audit_unavailable', async () => {
    const store = new AuditEventStore(vault.vault.db);
    store.appendChained = async () => {
      throw new Error('connection terminated');
    };
    const writer = new AuditWriter(store, settings, quiet);
    const results = await Promise.allSettled([writer.append([event(1)]), writer.append([event(2)])]);
    for (const result of results) expect(result).toMatchObject({ status: 'rejected', reason: { code: 'audit_unavailable', status: 503 } });
  });

  it('refuses events at once when too many wait for their commit', async () => {
    const { writer } = countingWriter({ ...settings, queueLimit: 3 });
    const accepted = writer.append([event(1), event(2), event(3)]);
    await expect(writer.append([event(4)])).rejects.toMatchObject({ code: 'audit_unavailable' });
    await accepted;
    await writer.stop();
  });

  it('refuses an event member that is not an identifier, so no value can slip in', async () => {
    const { writer } = countingWriter();
    await expect(writer.append([{ ...event(1), subjectId: 'jane.doe@example.com' }])).rejects.toThrow();
    await expect(writer.append([{ ...event(1), fields: { email: 'jane.doe@example.com' } }])).rejects.toThrow();
    await expect(writer.append([{ ...event(1), reason: 'Jane Doe asked' }])).rejects.toThrow();
    await writer.stop();
  });

  it('refuses new events once stopped', async () => {
    const { writer } = countingWriter();
    await writer.stop();
    await expect(writer.append([event(1)])).rejects.toMatchObject({ code: 'audit_unavailable' });
  });

  it('links each event to the one before with SHA-256(previous hash ‖ canonical event)', () => {
    const stamped = { occurredAt: new Date('2026-11-30T00:00:00.000Z'), action: 'subjects.read', outcome: 'allowed' as const, reason: null, clientId: null, purpose: null, scopes: [], subjectId: null, fields: {}, policyVersion: null, requestId: null, sourceAddress: null, target: null };
    const [first, second] = chainEvents({ seq: 0, hash: Buffer.alloc(32) }, [stamped, stamped]);
    expect(first!.seq).toBe(1);
    expect(second!.prevHash.equals(first!.hash)).toBe(true);
    expect(first!.hash.equals(second!.hash)).toBe(false);
  });

  it('counts the committed events by outcome', async () => {
    const metrics = createMetrics();
    const writer = new AuditWriter(new AuditEventStore(vault.vault.db), settings, quiet, metrics);
    await Promise.all([
      writer.append([event(1), event(2), { ...event(3), outcome: 'denied', reason: 'subject_opted_out' }]),
      writer.append([{ ...event(4), outcome: 'denied', reason: 'subject_opted_out' }]),
      writer.append([event(5)]),
    ]);
    const counted = await metrics.registry.getSingleMetric('pdvault_audit_events_total')!.get();
    const byOutcome = Object.fromEntries(counted.values.map((value) => [value.labels.outcome, value.value]));
    expect(byOutcome).toEqual({ allowed: 3, denied: 2 });
    await writer.stop();
  });
});
