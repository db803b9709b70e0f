import { startTestVault, type TestVault } from '../support/test-vault';
import { adminCaller, bearer, contextFor, dataCaller, newSubjectId, type Caller } from './support/principals';
import { registerClient, requestToken, startSecondInstance } from '../identity/support/identity-helpers';
import { accountService } from '../vault/support/data-callers';

interface Policy {
  purposes: Record<string, { fields: Record<string, string>; conditions?: Array<{ type: string }> }>;
}

let vault: TestVault;
let admin: Caller;
beforeAll(async () => {
  // Every decision asks for the current version, so a replacement is seen at once, without waiting.
  vault = await startTestVault({ PDVAULT_POLICY_CACHE_MS: '0' });
  admin = await adminCaller(vault, ['admin:policy']);
});
afterAll(() => vault.stop());

describe('/v1/admin/policy', () => {
  it('starts with the catalogue of DESIGN.md as version 1', async () => {
    const res = await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200);
    expect(res.headers.etag).toBe('"1"');
    expect(res.body).toMatchObject({ version: 1, created_by: 'migration' });
    const { purposes } = res.body.policy;
    expect(Object.keys(purposes).sort()).toEqual(
      ['account_management', 'analytics', 'billing', 'customer_support', 'debt_collection', 'joint_promotion', 'legal_disclosure', 'newsletter', 'partner_offers', 'payment_processing', 'promotions', 'shipping', 'surveys', 'transactional_email'],
    );
    expect(purposes.shipping.fields).toEqual({ name: 'plain', postal_address: 'plain' });
    expect(purposes.customer_support.fields).toMatchObject({ email: 'masked', phone: 'masked', postal_address: 'masked', payment_method: 'masked' });
    expect(purposes.newsletter.conditions).toEqual([{ type: 'subscribed', category: 'newsletter' }]);
    expect(purposes.joint_promotion.conditions).toEqual([{ type: 'sharing_consent' }]);
    expect(purposes.legal_disclosure.conditions).toEqual([{ type: 'approval' }]);
    expect(purposes.transactional_email.conditions).toBeUndefined();
  });

  it('refuses an invalid policy with the path of every offending member, and audits the attempt', async () => {
    const current = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body.policy;
    const broken = structuredClone(current);
    broken.purposes.teleportation = { fields: {} };
    broken.purposes.shipping.fields.shoe_size = 'plain';
    broken.purposes.billing.fields.name = 'sort_of';
    const res = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', '"1"').send(broken).expect(400);
    expect(res.body.code).toBe('invalid_policy');
    expect(res.body.errors.find((e: { pointer: string }) => e.pointer === '/purposes/billing/fields/name').detail).toMatch(/^Unknown reveal level "sort_of"; one of/);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['/purposes/billing/fields/name', '/purposes/shipping/fields/shoe_size', '/purposes/teleportation']);
    expect((await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body.version).toBe(1);
    const [event] = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
    expect(event).toMatchObject({ action: 'policy.replace', outcome: 'denied', reason: 'invalid_policy', client_id: admin.principal.clientId });
  });

  it('stores a replacement as a new version, keeps the old one, and decides with it at once on every instance', async () => {
    const second = await startSecondInstance(vault);
    try {
      const shipping = await dataCaller(vault, 'subjects:read', 'shipping', 'contractor');
      const subject = { id: newSubjectId() };
      const beforeChange = await second.vault.policy.decisions.decide(shipping.principal, 'subjects.read', subject, ['postal_address'], contextFor('before'));
      expect(beforeChange.fields).toEqual({ postal_address: 'plain' });

      const current = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
      const changed = structuredClone(current.policy);
      changed.purposes.shipping.fields = { name: 'plain', postal_address: 'masked' };
      const res = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${current.version}"`).send(changed).expect(200);
      expect(res.body).toMatchObject({ version: current.version + 1, created_by: admin.principal.clientId });
      expect(res.headers.etag).toBe(`"${current.version + 1}"`);

      const afterChange = await second.vault.policy.decisions.decide(shipping.principal, 'subjects.read', subject, ['postal_address'], contextFor('after'));
      expect(afterChange).toMatchObject({ allowed: true, policyVersion: current.version + 1, fields: { postal_address: 'masked' } });

      const versions = (await vault.get('/v1/admin/policy/versions').set(bearer(admin)).expect(200)).body.versions;
      expect(versions.map((v: { version: number }) => v.version)).toEqual([current.version + 1, current.version]);
      const old = await vault.get(`/v1/admin/policy/versions/${current.version}`).set(bearer(admin)).expect(200);
      expect(old.body.policy.purposes.shipping.fields).toEqual({ name: 'plain', postal_address: 'plain' });

      const [event] = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
      expect(event).toMatchObject({ action: 'policy.replace', outcome: 'allowed', policy_version: current.version + 1, target: `policy_version:${current.version + 1}` });
    } finally {
      await second.stop();
    }
  });

  it('refuses a replacement based on a version that is no longer current', async () => {
    const current = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const res = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', '"1"').send(current.policy).expect(412);
    expect(res.body.code).toBe('policy_version_mismatch');
  });

  it('refuses a weak ETag of the current version: If-Match compares strongly, nothing is stored', async () => {
    const current = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const res = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `W/"${current.version}"`).send(current.policy).expect(412);
    expect(res.body.code).toBe('policy_version_mismatch');
    expect((await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body.version).toBe(current.version);
  });

  it('takes an If-Match list that names the current version among others, and refuses one that is no list of quoted tags', async () => {
    const current = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const unquoted = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', String(current.version)).send(current.policy).expect(400);
    expect(unquoted.body.code).toBe('invalid_if_match');
    const replaced = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${current.version + 40}", W/"1", "${current.version}"`).send(current.policy).expect(200);
    expect(replaced.body.version).toBe(current.version + 1);
  });

  it('refuses a replacement without If-Match with 428, audited, storing nothing', async () => {
    const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const res = await vault.put('/v1/admin/policy').set(bearer(admin)).send(policy).expect(428);
    expect(res.body.code).toBe('precondition_required');
    expect((await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body.version).toBe(version);
    const [event] = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
    expect(event).toMatchObject({ action: 'policy.replace', outcome: 'denied', reason: 'precondition_required' });
  });

  it.each([
    ['held back until partner sharing is consented', (p: Policy) => (p.purposes.transactional_email!.conditions = [{ type: 'sharing_consent' }]), '/purposes/transactional_email/conditions'],
    ['dropped', (p: Policy) => delete p.purposes.transactional_email, '/purposes/transactional_email'],
  ])('refuses a policy under which account messages are %s, storing nothing', async (_label, change, pointer) => {
    const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    change(policy);
    const res = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send(policy).expect(400);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([pointer]);
    expect((await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body.version).toBe(version);
  });

  it('refuses a policy under which no purpose owns the record, storing nothing: erasure and consent need one', async () => {
    const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    policy.purposes.account_management.fields.birth_date = 'token';
    const res = await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send(policy).expect(400);
    expect(res.body.errors).toEqual([{ pointer: '/purposes', detail: expect.stringContaining('owns the record') }]);
    expect((await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body.version).toBe(version);
  });

  it('never makes a conditional purpose the owner: a partner purpose shown the whole record still cannot record its own consent', async () => {
    const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const original = structuredClone(policy);
    for (const field of ['email', 'name', 'phone', 'postal_address', 'birth_date']) policy.purposes.joint_promotion.fields[field] = 'plain';
    await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send(policy).expect(200);
    try {
      const account = await accountService(vault);
      const subject = (await vault.post('/v1/subjects').set(bearer(account)).send({ email: 'not.opted.in@example.com', preferences: { share_with_partners: false } }).expect(201)).body.id;
      const partner = await dataCaller(vault, 'preferences:write', 'joint_promotion');
      const res = await vault.put(`/v1/subjects/${subject}/preferences`).set(bearer(partner)).send({ share_with_partners: true });
      expect([res.status, res.body.code]).toEqual([403, 'not_record_owner']);
      expect((await vault.vault.db('subjects').where({ id: subject }).first()).preferences).toEqual({ share_with_partners: false });
    } finally {
      await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version + 1}"`).send(original).expect(200);
    }
  });

  it('still decides with a version stored before transactional mail had to stay unconditional', async () => {
    const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const older = structuredClone(policy);
    older.purposes.transactional_email.conditions = [{ type: 'sharing_consent' }];
    // As a vault of the earlier release stored it (its check let this through).
    await vault.vault.db('policy_versions').insert({ version: version + 1, document: JSON.stringify(older), created_by: 'earlier-release' });

    const read = await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200);
    expect(read.body.policy.purposes.transactional_email.conditions).toEqual([{ type: 'sharing_consent' }]);
    const mailer = await dataCaller(vault, 'emails:resolve', 'transactional_email');
    const decision = await vault.vault.policy.decisions.decide(mailer.principal, 'emails.resolve', { id: newSubjectId(), preferences: { share_with_partners: false } }, ['email'], contextFor('stored'));
    expect(decision).toMatchObject({ allowed: false, reason: 'sharing_not_consented' });

    await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version + 1}"`).send(policy).expect(200);
  });

  it('issues no token for a purpose the policy in force has dropped, and again once it is back', async () => {
    const surveyor = await registerClient(vault, { scopes: ['emails:resolve'], purposes: ['surveys'] });
    const ask = () => requestToken(vault, surveyor, { grant_type: 'client_credentials', scope: 'emails:resolve', purpose: 'surveys' });
    await ask().expect(200);
    const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const withoutSurveys = structuredClone(policy);
    delete withoutSurveys.purposes.surveys;
    await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send(withoutSurveys).expect(200);

    const refused = await ask().expect(400);
    expect(refused.body).toMatchObject({ error: 'invalid_scope', error_description: 'The policy in force has no rule for this purpose' });

    await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version + 1}"`).send(policy).expect(200);
    await ask().expect(200);
  });

  it('answers 404 for a version that never existed', async () => {
    expect((await vault.get('/v1/admin/policy/versions/999').set(bearer(admin)).expect(404)).body.code).toBe('policy_version_not_found');
  });

  it('refuses a token without admin:policy, and audits the refusal', async () => {
    const auditor = await adminCaller(vault, ['audit:read']);
    const res = await vault.put('/v1/admin/policy').set(bearer(auditor)).send({ purposes: {} }).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
    const [event] = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
    expect(event).toMatchObject({ action: 'policy.access', outcome: 'denied', reason: 'insufficient_scope', client_id: auditor.principal.clientId });
  });
});
