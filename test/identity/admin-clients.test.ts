import { ClientStore } from '../../src/store/clients';
import { answersQueuedBehind, holdRowLocks } from '../support/row-lock';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accessToken, registerAdmin, registerClient, requestToken, type Credentials } from './support/identity-helpers';

let vault: TestVault;
let admin: Credentials;
let token: string;
beforeAll(async () => {
  vault = await startTestVault();
  admin = await registerAdmin(vault);
  token = await accessToken(vault, admin, { scope: 'admin:clients audit:read' });
});
afterAll(() => vault.stop());

const as = (t: string) => ({ Authorization: `Bearer ${t}` });

describe('/v1/admin/clients', () => {
  it('records each change with the request it came in and the address it came from, as every admin event', async () => {
    const made = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'traced', scopes: ['subjects:read'], purposes: ['shipping'] }).expect(201);
    const id = made.body.client_id;
    const changes = [
      made,
      await vault.patch(`/v1/admin/clients/${id}`).set(as(token)).send({ purposes: ['billing'] }).expect(200),
      await vault.post(`/v1/admin/clients/${id}/rotate-secret`).set(as(token)).expect(200),
      await vault.post(`/v1/admin/clients/${id}/disable`).set(as(token)).expect(200),
    ];
    const events = await vault.vault.db('audit_events').where({ target: id }).orderBy('seq');
    expect(events.map((e) => [e.action, e.client_id, e.request_id, e.source_address])).toEqual(
      ['client.registered', 'client.grants_changed', 'client.secret_rotated', 'client.disabled'].map((action, i) => [action, admin.clientId, changes[i]!.headers['x-request-id'], expect.stringMatching(/127\.0\.0\.1/)]),
    );
  });

  it('registers a client whose secret is shown once and works at the token endpoint', async () => {
    const res = await vault
      .post('/v1/admin/clients')
      .set(as(token))
      .send({ name: 'mailer', scopes: ['emails:resolve'], purposes: ['transactional_email', 'newsletter'] })
      .expect(201);
    expect(res.headers.location).toBe(`/v1/admin/clients/${res.body.client_id}`);
    expect(res.body.client).toMatchObject({ name: 'mailer', kind: 'internal', enabled: true, scopes: ['emails:resolve'] });
    const mailer = { clientId: res.body.client_id, clientSecret: res.body.client_secret };
    await requestToken(vault, mailer, { grant_type: 'client_credentials', scope: 'emails:resolve', purpose: 'newsletter' }).expect(200);
    const listed = await vault.get('/v1/admin/clients').set(as(token)).expect(200);
    expect(JSON.stringify(listed.body)).not.toContain(mailer.clientSecret);
    const stored = await vault.vault.db('clients').where({ id: mailer.clientId }).first();
    expect(stored.secret_hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(stored.secret_hash).toMatch(/[$,]m=19456[,$]/);
    expect(stored.secret_hash).toMatch(/[$,]t=2[,$]/);
    expect(JSON.stringify(stored)).not.toContain(mailer.clientSecret.split('.')[1]);
  });

  it('registers a contractor with an expiry and refuses an admin scope for one', async () => {
    const ok = await vault
      .post('/v1/admin/clients')
      .set(as(token))
      .send({ name: 'postal', kind: 'contractor', scopes: ['subjects:read'], purposes: ['shipping'], expires_at: '2099-06-30' })
      .expect(201);
    expect(ok.body.client.expires_at).toBe('2099-07-01T00:00:00.000Z');
    const refused = await vault
      .post('/v1/admin/clients')
      .set(as(token))
      .send({ name: 'sneaky', kind: 'contractor', scopes: ['admin:clients'] })
      .expect(400);
    expect(refused.body.code).toBe('invalid_client_grant');
  });

  it('refuses a contractor without an expiry, and a change that would take its expiry away', async () => {
    const before = Number((await vault.vault.db('clients').count({ n: '*' }))[0]!.n);
    const open = await vault
      .post('/v1/admin/clients')
      .set(as(token))
      .send({ name: 'endless', kind: 'contractor', scopes: ['subjects:read'], purposes: ['shipping'] })
      .expect(400);
    expect(open.body.errors).toContainEqual(expect.objectContaining({ pointer: '/expires_at' }));
    const past = await vault
      .post('/v1/admin/clients')
      .set(as(token))
      .send({ name: 'expired', kind: 'contractor', scopes: ['subjects:read'], purposes: ['shipping'], expires_at: '2020-01-01' })
      .expect(400);
    expect(past.body.errors).toContainEqual({ pointer: '/expires_at', detail: 'The expiry must be in the future' });
    expect(Number((await vault.vault.db('clients').count({ n: '*' }))[0]!.n)).toBe(before);

    const made = await vault
      .post('/v1/admin/clients')
      .set(as(token))
      .send({ name: 'collector', kind: 'contractor', scopes: ['subjects:read'], purposes: ['debt_collection'], expires_at: '2099-06-30' })
      .expect(201);
    const cleared = await vault.patch(`/v1/admin/clients/${made.body.client_id}`).set(as(token)).send({ expires_at: null }).expect(400);
    expect(cleared.body.errors).toContainEqual(expect.objectContaining({ pointer: '/expires_at' }));
    const stored = await vault.vault.db('clients').where({ id: made.body.client_id }).first();
    expect(stored.expires_at.toISOString()).toBe('2099-07-01T00:00:00.000Z');
  });

  it('refuses unknown scopes and purposes, data scopes without a purpose, and a duplicate name', async () => {
    const bad = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'x1', scopes: ['subjects:read', 'root'], purposes: ['spying'] }).expect(400);
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(expect.arrayContaining(['/scopes/1', '/purposes/0']));
    expect((await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'x2', scopes: ['subjects:read'] }).expect(400)).body.code).toBe('invalid_client_grant');
    expect((await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'x3', scopes: 'subjects:read' }).expect(400)).body.code).toBe('invalid_body');
    // A member left out is said to be required, in the words of the data routes.
    const empty = await vault.post('/v1/admin/clients').set(as(token)).send({}).expect(400);
    expect(empty.body.errors).toEqual(expect.arrayContaining([{ pointer: '/name', detail: 'name is required' }]));
    await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'twice', scopes: ['audit:read'] }).expect(201);
    expect((await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'twice', scopes: ['audit:read'] }).expect(409)).body.code).toBe('client_name_taken');
  });

  it('has a registration and a new secret in the audit trail before they take effect, so a crash between cannot leave one unrecorded', async () => {
    const seenAtCommit: string[][] = [];
    const recordedFor = async (target: string) => (await vault.vault.db('audit_events').where({ target }).orderBy('seq').pluck('action')) as string[];
    const { insert: originalInsert, replaceSecret: originalReplace } = ClientStore.prototype;
    // Inside the change's transaction, read apart from it: what a crash at this moment would leave.
    const insert = jest.spyOn(ClientStore.prototype, 'insert').mockImplementation(async function (this: ClientStore, ...args) {
      seenAtCommit.push(await recordedFor(args[0].id));
      return originalInsert.apply(this, args);
    });
    const replace = jest.spyOn(ClientStore.prototype, 'replaceSecret').mockImplementation(async function (this: ClientStore, ...args) {
      seenAtCommit.push(await recordedFor(args[0]));
      return originalReplace.apply(this, args);
    });
    try {
      const made = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'recorded-first', scopes: ['subjects:read'], purposes: ['shipping'] }).expect(201);
      await vault.post(`/v1/admin/clients/${made.body.client_id}/rotate-secret`).set(as(token)).expect(200);
    } finally {
      insert.mockRestore();
      replace.mockRestore();
    }
    expect(seenAtCommit).toEqual([['client.registered'], ['client.registered', 'client.secret_rotated']]);
  });

  it('follows a registration refused under the lock (a name taken) with not_done, naming the same client id', async () => {
    await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'taken-once', scopes: ['subjects:read'], purposes: ['shipping'] }).expect(201);
    const before = Number((await vault.vault.db('audit_events').max('seq as seq').first())?.seq);
    await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'taken-once', scopes: ['subjects:read'], purposes: ['shipping'] }).expect(409);
    const events = await vault.vault.db('audit_events').where('seq', '>', before).andWhere({ action: 'client.registered' }).orderBy('seq').select('outcome', 'reason', 'target');
    expect(events).toEqual([
      { outcome: 'allowed', reason: null, target: expect.stringMatching(/^cli_/) },
      { outcome: 'denied', reason: 'not_done:client_name_taken', target: events[0]!.target },
    ]);
  });

  it('changes grants, so the next token carries the new ones', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'support', scopes: ['subjects:read'], purposes: ['customer_support'] }).expect(201);
    const id = created.body.client_id;
    const support = { clientId: id, clientSecret: created.body.client_secret };
    const changed = await vault.patch(`/v1/admin/clients/${id}`).set(as(token)).send({ purposes: ['customer_support', 'debt_collection'] }).expect(200);
    expect(changed.body.purposes).toEqual(['customer_support', 'debt_collection']);
    await requestToken(vault, support, { grant_type: 'client_credentials', scope: 'subjects:read', purpose: 'debt_collection' }).expect(200);
    expect((await vault.get(`/v1/admin/clients/${id}`).set(as(token)).expect(200)).body.purposes).toContain('debt_collection');
  });

  it('refuses a change that names nothing, recording and changing nothing', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'unchanged', scopes: ['audit:read'] }).expect(201);
    const id = created.body.client_id;
    const res = await vault.patch(`/v1/admin/clients/${id}`).set(as(token)).send({}).expect(400);
    expect([res.body.code, res.body.errors]).toEqual(['invalid_body', [{ pointer: '', detail: 'name at least one of scopes, purposes and expires_at' }]]);
    expect((await vault.get(`/v1/admin/clients/${id}`).set(as(token)).expect(200)).body.updated_at).toBe(created.body.client.updated_at);
    expect(await vault.vault.db('audit_events').where({ action: 'client.grants_changed', target: id })).toEqual([]);
  });

  it('rotates a secret: the new one works, the previous one for the overlap', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'rotating', scopes: ['audit:read'] }).expect(201);
    const rotated = await vault.post(`/v1/admin/clients/${created.body.client_id}/rotate-secret`).set(as(token)).expect(200);
    expect(rotated.body.client_secret).not.toBe(created.body.client_secret);
    expect(Date.parse(rotated.body.client.previous_secret_expires_at)).toBeGreaterThan(Date.now() + 86_000_000);
    for (const secret of [created.body.client_secret, rotated.body.client_secret]) {
      await requestToken(vault, { clientId: created.body.client_id, clientSecret: secret }, { grant_type: 'client_credentials', scope: 'audit:read' }).expect(200);
    }
  });

  it('rotates a leaked secret with end_previous: the previous one is refused at once, the new one works', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'leaked', scopes: ['audit:read'] }).expect(201);
    const rotated = await vault.post(`/v1/admin/clients/${created.body.client_id}/rotate-secret`).set(as(token)).send({ end_previous: true }).expect(200);
    expect(Date.parse(rotated.body.client.previous_secret_expires_at)).toBeLessThanOrEqual(Date.now());
    const as_ = (clientSecret: string) => requestToken(vault, { clientId: created.body.client_id, clientSecret }, { grant_type: 'client_credentials', scope: 'audit:read' });
    expect((await as_(created.body.client_secret).expect(401)).body.error).toBe('invalid_client');
    await as_(rotated.body.client_secret).expect(200);
    const [event] = await vault.vault.db('audit_events').where({ target: created.body.client_id, action: 'client.secret_rotated' });
    expect(event.reason).toBe('previous_secret_ended');
  });

  it('refuses a rotation whose end_previous is not a boolean, and keeps the secret', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'kept-secret', scopes: ['audit:read'] }).expect(201);
    for (const body of [{ end_previous: 'yes' }, { end_previous: true, extra: 1 }]) {
      const res = await vault.post(`/v1/admin/clients/${created.body.client_id}/rotate-secret`).set(as(token)).send(body).expect(400);
      expect(res.body.code).toBe('invalid_body');
    }
    await requestToken(vault, { clientId: created.body.client_id, clientSecret: created.body.client_secret }, { grant_type: 'client_credentials', scope: 'audit:read' }).expect(200);
    expect((await vault.vault.db('clients').where({ id: created.body.client_id }).first()).previous_secret_expires_at).toBeNull();
  });

  it('names a misspelt scope or purpose back, but not a value of another shape, which may be personal', async () => {
    const res = await vault
      .post('/v1/admin/clients')
      .set(as(token))
      .send({ name: 'echo-check', scopes: ['subjects:reed', 'jo.canary@example.com'], purposes: ['shiping', '4111 1111 1111 1111'] })
      .expect(400);
    expect(res.body.errors).toEqual([
      { pointer: '/scopes/0', detail: 'Unknown scope "subjects:reed"' },
      { pointer: '/scopes/1', detail: 'Unknown scope' },
      { pointer: '/purposes/0', detail: 'Unknown purpose "shiping"' },
      { pointer: '/purposes/1', detail: 'Unknown purpose' },
    ]);
  });

  it('gives a disabled client no new secret: disabling is for good', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'disabled-for-good', scopes: ['audit:read'] }).expect(201);
    await vault.post(`/v1/admin/clients/${created.body.client_id}/disable`).set(as(token)).expect(200);
    const before = await vault.vault.db('clients').where({ id: created.body.client_id }).first();

    const res = await vault.post(`/v1/admin/clients/${created.body.client_id}/rotate-secret`).set(as(token)).expect(409);

    expect(res.body.code).toBe('client_disabled');
    expect(await vault.vault.db('clients').where({ id: created.body.client_id }).first()).toEqual(before);
  });

  it('disables a client, whose existing token stops working at once', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'leaver', scopes: ['admin:clients'] }).expect(201);
    const leaverToken = await accessToken(vault, { clientId: created.body.client_id, clientSecret: created.body.client_secret }, { scope: 'admin:clients' });
    await vault.get('/v1/admin/clients').set(as(leaverToken)).expect(200);
    const res = await vault.post(`/v1/admin/clients/${created.body.client_id}/disable`).set(as(token)).expect(200);
    expect(res.body.enabled).toBe(false);
    await vault.get('/v1/admin/clients').set(as(leaverToken)).expect(401);
  });

  it('answers a second disable with the client as it stands, changing and recording nothing', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'twice-disabled', scopes: ['subjects:read'], purposes: ['shipping'] }).expect(201);
    const id = created.body.client_id;
    const first = await vault.post(`/v1/admin/clients/${id}/disable`).set(as(token)).expect(200);
    const second = await vault.post(`/v1/admin/clients/${id}/disable`).set(as(token)).expect(200);
    expect(second.body).toEqual(first.body);
    expect((await vault.vault.db('audit_events').where({ target: id, action: 'client.disabled' })).length).toBe(1);
  });

  it('answers two disables at once both 200, and records the one that found it disabled under the lock as not done', async () => {
    const created = await vault.post('/v1/admin/clients').set(as(token)).send({ name: 'disabled-at-once', scopes: ['subjects:read'], purposes: ['shipping'] }).expect(201);
    const id = created.body.client_id;
    // Both pass the check before the transaction (the client is enabled) and queue on its row.
    const lock = await holdRowLocks(vault.database.url, 'select 1 from clients where id = $1 for update', [id]);
    const answers = await answersQueuedBehind(lock, 2, () => [1, 2].map(() => vault.post(`/v1/admin/clients/${id}/disable`).set(as(token)).then((r) => r)));
    expect(answers.map((a) => [a.status, a.body.enabled])).toEqual([[200, false], [200, false]]);
    const events = await vault.vault.db('audit_events').where({ target: id, action: 'client.disabled' }).orderBy('seq').select('outcome', 'reason');
    expect(events).toEqual([
      { outcome: 'allowed', reason: null },
      { outcome: 'allowed', reason: null },
      { outcome: 'denied', reason: 'not_done:client_already_disabled' },
    ]);
  });

  it('refuses to let a client disable itself', async () => {
    const res = await vault.post(`/v1/admin/clients/${admin.clientId}/disable`).set(as(token)).expect(409);
    expect(res.body.code).toBe('cannot_disable_self');
  });

  it('answers 404 client_not_found for an unknown or malformed id', async () => {
    expect((await vault.get('/v1/admin/clients/cli_AAAAAAAAAAAAAAAA').set(as(token)).expect(404)).body.code).toBe('client_not_found');
    expect((await vault.get("/v1/admin/clients/'%20or%201=1").set(as(token)).expect(404)).body.code).toBe('client_not_found');
  });

  it('grants an admin or audit scope only from a client that holds it, and creates nothing otherwise', async () => {
    const clientAdmin = await registerClient(vault, { scopes: ['admin:clients'], purposes: [] });
    const onlyClients = await accessToken(vault, clientAdmin, { scope: 'admin:clients' });
    for (const scopes of [['admin:keys'], ['audit:read'], ['admin:policy', 'subjects:read']]) {
      const res = await vault.post('/v1/admin/clients').set(as(onlyClients)).send({ name: `escalate-${scopes[0]!.replace(':', '-')}`, scopes, purposes: scopes.includes('subjects:read') ? ['account_management'] : [] });
      expect([scopes, res.status, res.body.code]).toEqual([scopes, 403, 'scope_not_delegable']);
    }
    expect(await vault.vault.db('clients').where('name', 'like', 'escalate-%')).toEqual([]);
    const self = await vault.patch(`/v1/admin/clients/${clientAdmin.clientId}`).set(as(onlyClients)).send({ scopes: ['admin:clients', 'admin:keys'] });
    expect([self.status, self.body.code]).toEqual([403, 'scope_not_delegable']);
    // Refused before anything took effect, and before anything was recorded as allowed.
    expect(await vault.vault.db('audit_events').where({ action: 'client.grants_changed', target: clientAdmin.clientId }).select('outcome')).toEqual([]);
    // Data scopes are what client administration hands out.
    await vault.post('/v1/admin/clients').set(as(onlyClients)).send({ name: 'delegated-reader', scopes: ['subjects:read'], purposes: ['shipping'] }).expect(201);
  });

  it('changes a client holding an admin or audit scope only from a client that holds it too: no new secret, no disabling, no grant change', async () => {
    const clientAdmin = await registerClient(vault, { scopes: ['admin:clients'], purposes: [] });
    const onlyClients = await accessToken(vault, clientAdmin, { scope: 'admin:clients' });
    const keyAdmin = await registerClient(vault, { scopes: ['admin:clients', 'admin:keys'], purposes: [] });
    const before = await vault.vault.db('clients').where({ id: keyAdmin.clientId }).first();

    const attempts = [
      vault.post(`/v1/admin/clients/${keyAdmin.clientId}/rotate-secret`).set(as(onlyClients)),
      vault.post(`/v1/admin/clients/${keyAdmin.clientId}/disable`).set(as(onlyClients)),
      vault.patch(`/v1/admin/clients/${keyAdmin.clientId}`).set(as(onlyClients)).send({ scopes: ['admin:clients'] }),
      vault.patch(`/v1/admin/clients/${keyAdmin.clientId}`).set(as(onlyClients)).send({ expires_at: '2099-01-01' }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect([res.status, res.body.code, res.body.detail]).toEqual([403, 'client_not_manageable', "This request's token does not carry admin:keys: request a token with it in its scope, or use the command line"]);
      expect(JSON.stringify(res.body)).not.toMatch(/client_secret/);
    }

    expect(await vault.vault.db('clients').where({ id: keyAdmin.clientId }).first()).toEqual(before);
    await accessToken(vault, keyAdmin, { scope: 'admin:keys' });
    const refusals = await vault.vault.db('audit_events').where({ client_id: clientAdmin.clientId, action: 'clients.access' });
    expect(refusals.map((e) => [e.outcome, e.reason])).toEqual(Array.from({ length: 4 }, () => ['denied', 'client_not_manageable']));
    // Clients with data scopes only stay its to manage.
    const reader = await registerClient(vault, { scopes: ['subjects:read'], purposes: ['shipping'] });
    await vault.post(`/v1/admin/clients/${reader.clientId}/rotate-secret`).set(as(onlyClients)).expect(200);
  });

  it('stops a token at once when its client loses the scope, and refuses a client removing its own admin:clients', async () => {
    const demoted = await registerClient(vault, { scopes: ['admin:clients', 'audit:read'], purposes: [] });
    const oldToken = await accessToken(vault, demoted, { scope: 'admin:clients audit:read' });
    const selfDemotion = await vault.patch(`/v1/admin/clients/${demoted.clientId}`).set(as(oldToken)).send({ scopes: ['audit:read'] });
    expect([selfDemotion.status, selfDemotion.body.code]).toEqual([409, 'cannot_demote_self']);

    await vault.patch(`/v1/admin/clients/${demoted.clientId}`).set(as(token)).send({ scopes: ['audit:read'] }).expect(200);

    const res = await vault.post('/v1/admin/clients').set(as(oldToken)).send({ name: 'after-demotion', scopes: ['subjects:read'], purposes: ['shipping'] });
    expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
    expect(await vault.vault.db('clients').where({ name: 'after-demotion' }).first()).toBeUndefined();
  });

  it('requires the admin:clients scope', async () => {
    const auditor = await registerAdmin(vault);
    const auditToken = await accessToken(vault, auditor, { scope: 'audit:read' });
    const res = await vault.post('/v1/admin/clients').set(as(auditToken)).send({ name: 'nope', scopes: ['audit:read'] }).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
  });
});

describe('two administrators changing each other at the same moment', () => {
  it.each([
    ['take admin:clients from', (target: string, t: string) => vault.patch(`/v1/admin/clients/${target}`).set(as(t)).send({ scopes: ['audit:read'] }), [403, 'insufficient_scope']],
    ['disable', (target: string, t: string) => vault.post(`/v1/admin/clients/${target}/disable`).set(as(t)), [401, 'invalid_token']],
  ])('leave one of them administering clients when each tries to %s the other', async (_label, change, [status, code]) => {
    const x = await registerAdmin(vault);
    const y = await registerAdmin(vault);
    const xToken = await accessToken(vault, x, { scope: 'admin:clients audit:read' });
    const yToken = await accessToken(vault, y, { scope: 'admin:clients audit:read' });
    // Both requests are past their token checks and wait together on the two clients' rows.
    const lock = await holdRowLocks(vault.database.url, 'select 1 from clients where id = any($1) order by id for update', [[x.clientId, y.clientId]]);
    const answers = await answersQueuedBehind(lock, 2, () => [change(y.clientId, xToken).then((r) => r), change(x.clientId, yToken).then((r) => r)]);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.map((a) => [a.status, a.body.code])).toEqual([[status, code]]);
    const rows = await vault.vault.db('clients').whereIn('id', [x.clientId, y.clientId]);
    expect(rows.filter((row) => row.enabled && row.scopes.includes('admin:clients'))).toHaveLength(1);
  });
});
