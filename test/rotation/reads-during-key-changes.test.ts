import { startTestVault, type TestVault } from '../support/test-vault';
import { dataCaller } from '../policy/support/principals';
import { accountService, bearer, keyAdmin, paymentProcessor, subjectBody, VISA, waitForJob } from './support/rotation-helpers';
import type { Caller } from '../policy/support/principals';
import { accountService as accountWithConsent } from '../vault/support/data-callers';

jest.setTimeout(120_000);

type Answer = { status: number; body: Record<string, unknown> };
type Read = { name: string; send: () => Promise<Answer>; values: (body: Record<string, unknown>) => unknown[]; expected: unknown[]; status?: number };

/** A Visa number ending in `n` (zero-padded) with its Luhn check digit. */
function visaNumber(n: number): string {
  const body = `4${String(n).padStart(14, '0')}`;
  const sum = [...body].reverse().reduce((acc, ch, i) => {
    const d = Number(ch) * (i % 2 === 0 ? 2 : 1);
    return acc + (d > 9 ? d - 9 : d);
  }, 0);
  return body + String((10 - (sum % 10)) % 10);
}

describe('reads of a subject while its key changes under them', () => {
  let vault: TestVault;
  let admin: Caller;
  let account: Caller;
  let mailer: Caller;
  let processor: Caller;

  beforeAll(async () => {
    vault = await startTestVault({ PDVAULT_ROTATION_POLL_MS: '20' });
    admin = await keyAdmin(vault);
    account = await accountService(vault);
    mailer = await dataCaller(vault, 'emails:resolve', 'transactional_email');
    processor = await paymentProcessor(vault);
  });
  afterAll(() => vault?.stop());

  async function subjectWithCard(n: number) {
    const body = subjectBody(n);
    const id = (await vault.post('/v1/subjects').set('Authorization', bearer(account)).send(body).expect(201)).body.id as string;
    const token = (await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', bearer(account)).send(VISA).expect(201)).body.token as string;
    return { id, token, body };
  }

  /** Every read that opens the subject's ciphertexts, with the values its 200 must carry. */
  function readsOf({ id, token, body }: Awaited<ReturnType<typeof subjectWithCard>>): Read[] {
    return [
      { name: 'subject', send: () => vault.get(`/v1/subjects/${id}`).set('Authorization', bearer(account)), values: (b) => [b.email, b.name], expected: [body.email, body.name] },
      { name: 'email', send: () => vault.get(`/v1/subjects/${id}/email`).set('Authorization', bearer(mailer)), values: (b) => [b.email], expected: [body.email] },
      {
        name: 'batch',
        send: () => vault.post('/v1/emails/resolve').set('Authorization', bearer(mailer)).send({ subject_ids: [id] }),
        values: (b) => [(b.results as Array<{ email?: string; error?: string }>)[0]?.email],
        expected: [body.email],
      },
      {
        name: 'export',
        send: () => vault.get(`/v1/subjects/${id}/export`).set('Authorization', bearer(account)),
        values: (b) => [(b.subject as { email: string }).email, (b.payment_methods as Array<{ holder_name: string }>)[0]?.holder_name],
        expected: [body.email, VISA.holder_name],
      },
      { name: 'reveal', send: () => vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', bearer(processor)), values: (b) => [b.number], expected: [VISA.number] },
    ];
  }

  /** Runs every read in a loop until `change` is done; returns each answer that was not the subject's values, as `read: status code`. */
  async function readThrough(reads: Read[], change: () => Promise<void>, acceptGone = false) {
    let stop = false;
    const answered: Record<string, number> = {};
    const wrong: string[] = [];
    const gone = new Set<string>();
    const loops = reads.map(async (read) => {
      while (!stop && !gone.has(read.name)) {
        const res = await read.send();
        answered[read.name] = (answered[read.name] ?? 0) + 1;
        const batchItem = (res.body.results as Array<{ error?: string }> | undefined)?.[0];
        if (acceptGone && (res.status === 404 || batchItem?.error)) {
          gone.add(read.name);
          if (![`404 subject_not_found`, `404 payment_method_not_found`, `200 not_found`].includes(`${res.status} ${String(res.body.code ?? batchItem?.error)}`)) {
            wrong.push(`${read.name}: ${res.status} ${String(res.body.code ?? batchItem?.error)}`);
          }
        } else if (res.status !== (read.status ?? 200)) wrong.push(`${read.name}: ${res.status} ${String(res.body.code)}`);
        else if (JSON.stringify(read.values(res.body)) !== JSON.stringify(read.expected)) wrong.push(`${read.name}: other values`);
      }
    });
    await change();
    stop = true;
    await Promise.all(loops);
    return { answered, wrong };
  }

  const rekey = async (id: string) => {
    const started = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'subject', subject_id: id }).expect(202);
    expect((await waitForJob(vault, admin, started.body.job_id)).state).toBe('succeeded');
  };

  it('answers every read with the values it holds, however re-keys fall between reading a row and opening it', async () => {
    const subject = await subjectWithCard(1);
    const reads = readsOf(subject);
    const { answered, wrong } = await readThrough(reads, async () => {
      for (let n = 0; n < 25; n++) await rekey(subject.id);
    });

    expect(wrong).toEqual([]);
    for (const read of reads) expect(answered[read.name]).toBeGreaterThan(0);
    expect((await vault.vault.db('subject_keys').where({ subject_id: subject.id })).map((k: { version: number }) => k.version)).toEqual([26]);
  });

  it('answers a read whose row was read again after a re-key with the ETag of the version it shows', async () => {
    const { id, body } = await subjectWithCard(2);
    // Between the read of the row and its opening: a change (version 2), then a re-key.
    const keys = vault.vault.keys;
    const open = keys.open.bind(keys);
    let overtaken: Promise<unknown> | undefined;
    const spy = jest.spyOn(keys, 'open').mockImplementation(async (...args) => {
      overtaken ??= (async () => {
        await vault.patch(`/v1/subjects/${id}`).set('Authorization', bearer(account)).set('If-Match', '"1"').send({ name: 'Renamed Meanwhile' }).expect(200);
        await rekey(id);
      })();
      await overtaken;
      return open(...args);
    });
    try {
      const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', bearer(account)).expect(200);

      expect([res.headers.etag, res.body.version, res.body.name, res.body.email]).toEqual(['"2"', 2, 'Renamed Meanwhile', body.email]);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses an email whose row, read again after a re-key, shows the subject unsubscribed meanwhile, and records it as not given', async () => {
    const { id } = await subjectWithCard(3);
    const newsletter = await dataCaller(vault, 'emails:resolve', 'newsletter');
    const owner = await accountWithConsent(vault);
    const keys = vault.vault.keys;
    const open = keys.open.bind(keys);
    let overtaken: Promise<unknown> | undefined;
    const spy = jest.spyOn(keys, 'open').mockImplementation(async (...args) => {
      overtaken ??= (async () => {
        await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', bearer(owner)).send({ newsletter: false }).expect(200);
        await rekey(id);
      })();
      await overtaken;
      return open(...args);
    });
    try {
      const res = await vault.get(`/v1/subjects/${id}/email`).set('Authorization', bearer(newsletter));

      expect([res.status, res.body.code]).toEqual([403, 'subject_opted_out']);
      const events = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] }).orderBy('seq').select('outcome', 'reason');
      expect(events).toEqual([
        { outcome: 'allowed', reason: null },
        { outcome: 'denied', reason: 'not_done:subject_opted_out' },
      ]);
    } finally {
      spy.mockRestore();
    }
  });

  it('answers a read or a write overtaken by an erasure as one after it: not found, never another error', async () => {
    const wrongs: string[] = [];
    for (let n = 0; n < 20; n++) {
      const subject = await subjectWithCard(100 + n);
      let cards = 0;
      // A write that seals under the subject's key, overtaken the same way.
      const addCard: Read = {
        name: 'add card',
        send: () => vault.post(`/v1/subjects/${subject.id}/payment-methods`).set('Authorization', bearer(account)).send({ ...VISA, number: visaNumber(n * 1000 + ++cards) }),
        values: (b) => [b.brand],
        expected: ['visa'],
        status: 201,
      };
      const { wrong } = await readThrough(
        [...readsOf(subject), addCard],
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 15));
          await vault.delete(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).expect(204);
        },
        true,
      );
      wrongs.push(...wrong);
    }
    expect(wrongs).toEqual([]);
  });

  it('answers every route on a subject whose key is gone but whose row is not yet (an erasure between read and open) as not found', async () => {
    const subject = await subjectWithCard(300);
    const { etag } = (await vault.get(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).expect(200)).headers as { etag: string };
    await vault.vault.keys.destroySubjectKey(subject.id);

    for (const read of readsOf(subject)) {
      const res = await read.send();
      const answer = read.name === 'batch' ? `${res.status} ${(res.body.results as Array<{ error: string }>)[0]!.error}` : `${res.status} ${String(res.body.code)}`;
      expect([read.name, answer]).toEqual([read.name, read.name === 'batch' ? '200 not_found' : '404 subject_not_found']);
    }
    const card = await vault.post(`/v1/subjects/${subject.id}/payment-methods`).set('Authorization', bearer(account)).send({ ...VISA, number: visaNumber(300_001) });
    expect([card.status, card.body.code]).toEqual([404, 'subject_not_found']);
    const patch = await vault.patch(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).set('If-Match', etag).send({ name: 'Someone Else' });
    expect([patch.status, patch.body.code]).toEqual([404, 'subject_not_found']);
    expect(await vault.vault.db('payment_methods').where({ subject_id: subject.id }).count('* as n').first()).toEqual({ n: '1' });
  });

  it('answers integrity_error, once read again, for a field put back from before a re-key', async () => {
    const subject = await subjectWithCard(200);
    const before = await vault.vault.db('subjects').where({ id: subject.id }).first();
    await rekey(subject.id);
    await vault.vault.db('subjects').where({ id: subject.id }).update({ name: before.name });

    const res = await vault.get(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).expect(500);
    expect(res.body.code).toBe('integrity_error');
    expect(JSON.stringify(res.body)).not.toContain(subject.body.name);
  });
});
