import { eventually } from '../support/eventually';
import { VaultError } from '../../src/errors/vault-error';
import { assertAllowed } from '../../src/policy/decision';
import { FIELDS } from '../../src/policy/vocabulary';
import { startTestVault, type TestVault } from '../support/test-vault';
import { auditRowsOf, contextFor, dataCaller, newSubjectId, type Caller } from './support/principals';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
});
afterAll(() => vault.stop());

// As a request does: the token is checked now (which reads the client's current grants), then decided on.
const decide = async (caller: Caller, action: Parameters<TestVault['vault']['policy']['decisions']['decide']>[1], subject: { id: string; preferences?: Record<string, unknown> } | null, fields: readonly string[], label = 'decide') => {
  const context = contextFor(label);
  const principal = await vault.vault.identity.verifier.verify(caller.token).catch(() => ({ ...caller.principal, currentGrants: undefined }));
  return vault.vault.policy.decisions.decide(principal, action, subject, fields, context).then((decision) => ({ decision, context }));
};

describe('the decision point', () => {
  it('shows a shipping contractor name and postal address and nothing else', async () => {
    const shipping = await dataCaller(vault, 'subjects:read', 'shipping', 'contractor');
    const { decision, context } = await decide(shipping, 'subjects.read', { id: newSubjectId() }, FIELDS);
    expect(decision).toMatchObject({ allowed: true, subjectReference: 'id', policyVersion: 1 });
    expect(decision.fields).toEqual({
      email: 'absent',
      name: 'plain',
      phone: 'absent',
      postal_address: 'plain',
      country: 'absent',
      birth_date: 'absent',
      payment_method: 'absent',
    });
    const [event] = await auditRowsOf(vault, context.requestId);
    expect(event).toMatchObject({ action: 'subjects.read', outcome: 'allowed', purpose: 'shipping', client_id: shipping.principal.clientId, fields: decision.fields });
  });

  it('refuses a newsletter address for a subject who unsubscribed, and gives it after they resubscribe', async () => {
    const mailer = await dataCaller(vault, 'emails:resolve', 'newsletter');
    const subject = newSubjectId();
    const refused = await decide(mailer, 'emails.resolve', { id: subject, preferences: { newsletter: false } }, ['email']);
    expect(refused.decision).toMatchObject({ allowed: false, reason: 'subject_opted_out' });
    const allowed = await decide(mailer, 'emails.resolve', { id: subject, preferences: { newsletter: true } }, ['email']);
    expect(allowed.decision).toMatchObject({ allowed: true, fields: { email: 'plain' } });

    const [refusal] = await auditRowsOf(vault, refused.context.requestId);
    expect(refusal).toMatchObject({ outcome: 'denied', reason: 'subject_opted_out', subject_id: subject, purpose: 'newsletter' });
    const [grant] = await auditRowsOf(vault, allowed.context.requestId);
    expect(grant).toMatchObject({ outcome: 'allowed', reason: null, subject_id: subject });
  });

  it('always gives a transactional email address, whatever the subject unsubscribed from', async () => {
    const mailer = await dataCaller(vault, 'emails:resolve', 'transactional_email');
    const everythingOff = { newsletter: false, promotions: false, surveys: false, partner_offers: false, share_with_partners: false };
    const { decision, context } = await decide(mailer, 'emails.resolve', { id: newSubjectId(), preferences: everythingOff }, ['email']);
    expect(decision).toMatchObject({ allowed: true, fields: { email: 'plain' } });
    expect(await auditRowsOf(vault, context.requestId)).toHaveLength(1);
  });

  it('sends newsletters to a subject who never chose (subscribed by default)', async () => {
    const mailer = await dataCaller(vault, 'emails:resolve', 'promotions');
    expect((await decide(mailer, 'emails.resolve', { id: newSubjectId() }, ['email'])).decision.allowed).toBe(true);
  });

  it('refuses joint promotion until the subject opts in to sharing', async () => {
    const partner = await dataCaller(vault, 'subjects:read', 'joint_promotion');
    const subject = newSubjectId();
    expect((await decide(partner, 'subjects.read', { id: subject }, ['email', 'name'])).decision).toMatchObject({ allowed: false, reason: 'sharing_not_consented' });
    expect((await decide(partner, 'subjects.read', { id: subject, preferences: { share_with_partners: true } }, ['email', 'name'])).decision.allowed).toBe(true);
  });

  it('refuses an action whose scope the token lacks', async () => {
    const shipping = await dataCaller(vault, 'subjects:read', 'shipping');
    expect((await decide(shipping, 'emails.resolve', { id: newSubjectId() }, ['email'])).decision).toMatchObject({ allowed: false, reason: 'insufficient_scope' });
  });

  it('refuses a purpose taken from the client after its token was issued', async () => {
    const support = await dataCaller(vault, 'subjects:read', 'customer_support');
    await vault.vault.identity.clients.changeGrants(support.principal.clientId, { purposes: ['shipping'] }, { via: 'cli' });
    expect((await decide(support, 'subjects.read', { id: newSubjectId() }, ['name'])).decision).toMatchObject({ allowed: false, reason: 'purpose_not_granted' });
  });

  it('refuses a client whose grant has expired', async () => {
    const collector = await dataCaller(vault, 'subjects:read', 'debt_collection', 'contractor');
    await vault.vault.db('clients').where({ id: collector.principal.clientId }).update({ expires_at: new Date(Date.now() - 1000) });
    // Changed outside the vault: it learns of it when PostgreSQL's announcement arrives, a moment later.
    await eventually(() => vault.vault.identity.verifier.verify(collector.token).then(() => false, () => true), 'the expiry announced');
    expect((await decide(collector, 'subjects.read', { id: newSubjectId() }, ['name'])).decision).toMatchObject({ allowed: false, reason: 'grant_expired' });
  });

  it('refuses to reveal a field the purpose sees only masked', async () => {
    const support = await dataCaller(vault, 'emails:resolve', 'customer_support');
    expect((await decide(support, 'emails.resolve', { id: newSubjectId() }, ['email'])).decision).toMatchObject({
      allowed: false,
      reason: 'field_not_allowed',
      fields: { email: 'masked' },
    });
    const billing = await dataCaller(vault, 'payment_methods:reveal', 'billing');
    expect((await decide(billing, 'payment_methods.reveal', { id: newSubjectId() }, ['payment_method'])).decision).toMatchObject({ allowed: false, reason: 'field_not_allowed' });
    const processor = await dataCaller(vault, 'payment_methods:reveal', 'payment_processing', 'contractor');
    expect((await decide(processor, 'payment_methods.reveal', { id: newSubjectId() }, ['payment_method'])).decision.allowed).toBe(true);
  });

  it('lets deny win: one field not allowed refuses the whole reveal', async () => {
    const mailer = await dataCaller(vault, 'emails:resolve', 'newsletter');
    const { decision } = await decide(mailer, 'emails.resolve', { id: newSubjectId(), preferences: { newsletter: true } }, ['email', 'phone']);
    expect(decision).toMatchObject({ allowed: false, reason: 'field_not_allowed' });
  });

  it('shows analytics the country alone, under a pseudonym', async () => {
    const analytics = await dataCaller(vault, 'subjects:read', 'analytics', 'contractor');
    const { decision } = await decide(analytics, 'subjects.read', { id: newSubjectId() }, FIELDS);
    expect(decision).toMatchObject({ allowed: true, subjectReference: 'pseudonym' });
    expect(Object.entries(decision.fields).filter(([, level]) => level !== 'absent')).toEqual([['country', 'plain']]);
  });

  it('refuses a read that would show none of the fields asked for', async () => {
    const analytics = await dataCaller(vault, 'subjects:read', 'analytics', 'contractor');
    expect((await decide(analytics, 'subjects.read', { id: newSubjectId() }, ['email', 'phone'])).decision).toMatchObject({ allowed: false, reason: 'field_not_allowed' });
  });

  it("leaves consent to the record's owner: a mailing purpose may not change it, whatever fields it names", async () => {
    const unsubscribe = await dataCaller(vault, 'preferences:write', 'newsletter');
    const { decision } = await decide(unsubscribe, 'preferences.write', { id: newSubjectId(), preferences: { newsletter: false } }, []);
    expect(decision).toMatchObject({ allowed: false, reason: 'not_record_owner', fields: { email: 'plain', name: 'plain', phone: 'absent', postal_address: 'absent', birth_date: 'absent' } });
  });

  it("lets the record's owner change consent, and records no field for it", async () => {
    const owner = await dataCaller(vault, 'preferences:write', 'account_management');
    expect((await decide(owner, 'preferences.write', { id: newSubjectId(), preferences: { newsletter: false } }, [])).decision).toMatchObject({ allowed: true, fields: {} });
  });

  it('turns a denial into a 403 whose code is the reason', async () => {
    const shipping = await dataCaller(vault, 'subjects:read', 'shipping');
    const { decision } = await decide(shipping, 'emails.resolve', { id: newSubjectId() }, ['email']);
    expect(() => assertAllowed(decision)).toThrow(expect.objectContaining({ code: 'insufficient_scope', status: 403 }) as VaultError);
  });

  it('decides a batch one subject at a time, each with its own reason and audit event', async () => {
    const mailer = await dataCaller(vault, 'emails:resolve', 'surveys');
    const subjects = [{ id: newSubjectId() }, { id: newSubjectId(), preferences: { surveys: false } }, { id: newSubjectId(), preferences: { surveys: true } }];
    const context = contextFor('batch');
    const decisions = await vault.vault.policy.decisions.decideEach(mailer.principal, 'emails.resolve', subjects, ['email'], context);
    expect(decisions.map((d) => (d.allowed ? 'allowed' : d.reason))).toEqual(['allowed', 'subject_opted_out', 'allowed']);
    const rows = await auditRowsOf(vault, context.requestId);
    expect(rows.map((row) => [row.subject_id, row.outcome])).toEqual(subjects.map((s, i) => [s.id, i === 1 ? 'denied' : 'allowed']));
    expect(rows.map((row) => Number(row.seq))).toEqual([Number(rows[0].seq), Number(rows[0].seq) + 1, Number(rows[0].seq) + 2]);
  });
});

describe('preference defaults', () => {
  let optIn: TestVault;
  beforeAll(async () => {
    optIn = await startTestVault({ PDVAULT_DEFAULT_SUBSCRIBED: 'false', PDVAULT_DEFAULT_SHARE_WITH_PARTNERS: 'true' });
  });
  afterAll(() => optIn.stop());

  it('follow the settings where mailing is opt-in and sharing opt-out', async () => {
    const mailer = await dataCaller(optIn, 'emails:resolve', 'newsletter');
    const partner = await dataCaller(optIn, 'subjects:read', 'joint_promotion');
    const subject = { id: newSubjectId() };
    const context = contextFor('defaults');
    expect(await optIn.vault.policy.decisions.decide(mailer.principal, 'emails.resolve', subject, ['email'], context)).toMatchObject({ allowed: false, reason: 'subject_not_subscribed' });
    const unsubscribed = { id: newSubjectId(), preferences: { newsletter: false } };
    expect(await optIn.vault.policy.decisions.decide(mailer.principal, 'emails.resolve', unsubscribed, ['email'], context)).toMatchObject({ allowed: false, reason: 'subject_opted_out' });
    expect(await optIn.vault.policy.decisions.decide(partner.principal, 'subjects.read', subject, ['name'], context)).toMatchObject({ allowed: true });
  });
});
