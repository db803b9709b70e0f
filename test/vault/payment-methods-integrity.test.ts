import { accessToken } from '../identity/support/identity-helpers';
import { callerWith } from '../policy/support/principals';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, type Caller } from './support/data-callers';

/**
 * What must hold around the card data beyond the happy path: the reveal is audited before the
 * number is opened and the event carries no card data, a ciphertext moved to another payment
 * method does not open, and neither a CVV nor a number is found in clear in any table or log.
 */
let vault: TestVault;
let account: Caller;
let billing: Caller;
let processing: string;

const YEAR = new Date().getUTCFullYear() + 2;
const VISA = { number: '4012888888881881', exp_month: 3, exp_year: YEAR, holder_name: 'Ada Cardholder' };
const MASTERCARD = { number: '5105105105105100', exp_month: 9, exp_year: YEAR, holder_name: 'Ada Cardholder' };
const CVV = '7391';

beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
  billing = await callerWith(
    vault,
    { scopes: ['payment_methods:read', 'payment_methods:reveal'], purposes: ['billing', 'payment_processing'] },
    'payment_methods:read payment_methods:reveal',
    'billing',
  );
  processing = await accessToken(vault, billing.credentials, { scope: 'payment_methods:reveal', purpose: 'payment_processing' });
});
afterAll(() => vault.stop());

const addCard = async (subjectId: string, card: Record<string, unknown>) =>
  (await vault.post(`/v1/subjects/${subjectId}/payment-methods`).set('Authorization', auth(account)).send(card).expect(201)).body.token as string;
const reveal = (token: string, bearer = processing) => vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', `Bearer ${bearer}`);
const auditOf = (requestId: string) => vault.vault.db('audit_events').where({ request_id: requestId }).orderBy('seq');

describe('the reveal audit', () => {
  it('records an allowed payment_methods.reveal for the subject, purpose and client, with no card digits or token', async () => {
    const { id } = await createSubject(vault, account);
    const token = await addCard(id, VISA);
    const res = await reveal(token).expect(200);
    expect(res.body.number).toBe(VISA.number);

    const events = await auditOf(res.headers['x-request-id']);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'payment_methods.reveal',
      outcome: 'allowed',
      client_id: billing.credentials.clientId,
      purpose: 'payment_processing',
      subject_id: id,
      fields: { payment_method: 'plain' },
    });
    const { hash: _hash, prev_hash: _prev, ...event } = events[0];
    const text = JSON.stringify(event);
    for (const secret of [VISA.number, VISA.number.slice(-4), VISA.holder_name, token]) expect(text).not.toContain(secret);
  });

  it('records a denied reveal (billing purpose) with its reason, and reveals nothing', async () => {
    const { id } = await createSubject(vault, account);
    const token = await addCard(id, VISA);
    const res = await reveal(token, billing.token).expect(403);
    expect(res.body.code).toBe('field_not_allowed');
    expect(await auditOf(res.headers['x-request-id'])).toEqual([
      expect.objectContaining({ action: 'payment_methods.reveal', outcome: 'denied', reason: 'field_not_allowed', purpose: 'billing', subject_id: id }),
    ]);
  });

  it('reveals nothing (503 audit_unavailable) when the reveal\'s audit event cannot be committed', async () => {
    const { id } = await createSubject(vault, account);
    const token = await addCard(id, VISA);
    const db = vault.vault.db;
    await db.raw(`create function refuse_reveal_events() returns trigger language plpgsql as $$
      begin if new.action = 'payment_methods.reveal' then raise exception 'audit refused by the test'; end if; return new; end $$`);
    await db.raw('create trigger refuse_reveal_events before insert on audit_events for each row execute function refuse_reveal_events()');
    try {
      const res = await reveal(token).expect(503);
      expect(res.body.code).toBe('audit_unavailable');
      expect(res.text).not.toContain(VISA.number);
    } finally {
      await db.raw('drop trigger refuse_reveal_events on audit_events');
      await db.raw('drop function refuse_reveal_events()');
    }
    expect((await reveal(token).expect(200)).body.number).toBe(VISA.number);
  });
});

describe('a card ciphertext moved in the database', () => {
  it('fails to open when swapped between two payment methods of one subject: 500 integrity_error, no internals', async () => {
    const { id } = await createSubject(vault, account);
    const visa = await addCard(id, VISA);
    const mastercard = await addCard(id, MASTERCARD);
    await vault.vault.db.raw(
      `update payment_methods p set card = o.card from payment_methods o
        where (p.token, o.token) in ((?, ?), (?, ?))`,
      [visa, mastercard, mastercard, visa],
    );

    for (const token of [visa, mastercard]) {
      const res = await reveal(token).expect(500);
      expect(res.body).toEqual({ type: 'urn:pdvault:problem:integrity_error', title: 'Stored data failed its integrity check', status: 500, code: 'integrity_error', request_id: expect.any(String) });
      for (const secret of [VISA.number, MASTERCARD.number]) expect(res.text).not.toContain(secret);
    }
  });

  it('answers a sealed card that is not the JSON the vault seals with integrity_error, and never repeats its text', async () => {
    const { id } = await createSubject(vault, account);
    const token = await addCard(id, VISA);
    // Authentic under the subject's key, but cut short: a parser's message would quote it.
    const truncated = await vault.vault.keys.seal(id, `payment_method:${token}`, `{"number":"${VISA.number}","holder_name":"Ada`);
    await vault.vault.db('payment_methods').where({ token }).update({ card: truncated });
    const logged = vault.logs.length;

    const res = await reveal(token).expect(500);

    expect(res.body.code).toBe('integrity_error');
    expect(res.text).not.toContain(VISA.number);
    expect(vault.logs.slice(logged).join('\n')).toContain('integrity_error');
    expect(vault.logs.slice(logged).join('\n')).not.toContain(VISA.number);
  });

  it('fails to open when copied onto another subject\'s payment method', async () => {
    const one = await createSubject(vault, account);
    const two = await createSubject(vault, account);
    const source = await addCard(one.id, VISA);
    const target = await addCard(two.id, MASTERCARD);
    await vault.vault.db.raw('update payment_methods set card = (select card from payment_methods where token = ?) where token = ?', [source, target]);
    expect((await reveal(target).expect(500)).body.code).toBe('integrity_error');
    expect((await reveal(source).expect(200)).body.number).toBe(VISA.number);
  });
});

/** Every row of every table, searched for `needle` as text, as hex and base64 of its bytes, and as raw bytes in binary columns. */
/**
 * Every column holding `needle` in any encoding the store could use. `wholeToken`: the plain
 * form counts only standing on its own (not inside a longer run of letters and digits), for a
 * needle as short as a CVV, which random hex ids contain by chance.
 */
async function tablesHolding(needle: string, { wholeToken = false } = {}): Promise<string[]> {
  const db = vault.vault.db;
  const columns: Array<{ table_name: string; column_name: string; data_type: string }> = (
    await db.raw(`select table_name, column_name, data_type from information_schema.columns
                   where table_schema = 'public' and data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')`)
  ).rows;
  const bytes = Buffer.from(needle, 'utf8');
  const textForms = [needle, bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, '')];
  const found: string[] = [];
  for (const { table_name: table, column_name: column, data_type: type } of columns) {
    const hits =
      type === 'bytea'
        ? await db(table).whereRaw('position(?::bytea in ??) > 0', [bytes, column]).count({ n: '*' })
        : await db(table)
            .where((q) => {
              const [plain, ...encoded] = textForms;
              if (wholeToken) q.orWhereRaw('??::text ~ ?', [column, `(^|[^A-Za-z0-9])${plain}([^A-Za-z0-9]|$)`]);
              else q.orWhereRaw('??::text like ?', [column, `%${plain}%`]);
              for (const form of encoded) q.orWhereRaw('??::text like ?', [column, `%${form}%`]);
            })
            .count({ n: '*' });
    if (Number(hits[0]!.n) > 0) found.push(`${table}.${column}`);
  }
  return found;
}

describe('card data at rest and in the logs', () => {
  it('keeps no CVV anywhere: refused at the door, in no table and no log line', async () => {
    const { id } = await createSubject(vault, account);
    const res = await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(account)).send({ ...VISA, cvc: CVV }).expect(422);
    expect(res.body.code).toBe('cvv_not_accepted');
    // The search finds what is there (a positive control), so its empty answers mean something.
    expect(await tablesHolding(id)).toEqual(expect.arrayContaining(['subjects.id', 'subject_keys.subject_id']));
    expect(await tablesHolding(CVV, { wholeToken: true })).toEqual([]);
    expect(vault.logs.filter((line) => new RegExp(`(^|[^A-Za-z0-9])${CVV}([^A-Za-z0-9]|$)`).test(line))).toEqual([]);
  });

  it('keeps card numbers and holder names only sealed: in no table and no log line, nor any pm_ token in the logs', async () => {
    const { id } = await createSubject(vault, account);
    const token = await addCard(id, MASTERCARD);
    await reveal(token).expect(200);
    for (const secret of [VISA.number, MASTERCARD.number, MASTERCARD.holder_name]) {
      expect(await tablesHolding(secret)).toEqual([]);
      expect(vault.logs.filter((line) => line.includes(secret))).toEqual([]);
    }
    expect(vault.logs.filter((line) => /pm_[A-Za-z0-9_-]{22}/.test(line))).toEqual([]);
  });
});
