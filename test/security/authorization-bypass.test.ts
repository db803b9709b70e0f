import { ADMIN_SCOPES, DATA_SCOPES } from '../../src/identity/scopes';
import { basic, registerClient } from '../identity/support/identity-helpers';
import { adminCaller, callerWith, dataCaller, type Caller } from '../policy/support/principals';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, contractor, createSubject, SAMPLE } from '../vault/support/data-callers';
import {
  attack,
  concretePath,
  dataFingerprint,
  expectAlive,
  expectNothingWritten,
  expectRefused,
  OPERATIONS,
  prepareFixtures,
  type Fixtures,
  type Operation,
} from './support/attack-surface';
import { validBody } from './support/payloads';

let vault: TestVault;
let fixtures: Fixtures;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  fixtures = await prepareFixtures(vault);
  account = await accountService(vault);
}, 60_000);
afterAll(() => vault?.stop());

const securedOperations = OPERATIONS.filter((op) => op.scope);

/** Sends `op` with `token` and a body that would pass validation, and expects the refusal named, with nothing written. */
async function expectDenied(op: Operation, token: string, status: number, codes: string[], path = concretePath(op, fixtures)): Promise<void> {
  const before = await dataFingerprint(vault);
  const req = attack(vault, fixtures, op, path).set('Authorization', `Bearer ${token}`);
  const res = await (op.body === 'json' ? req.send(validBody(op, fixtures)) : req);
  const context = `${op.label} with a token the route must refuse`;
  expectRefused(res, context);
  expect({ context, status: res.status, expectedCode: codes.includes(res.body.code) }).toEqual({ context, status, expectedCode: true });
  expectNothingWritten(before, await dataFingerprint(vault), context);
}

describe('scopes: a token reaches only the routes its scopes name', () => {
  // Per scope, one data token and one admin token holding every scope but that one.
  const withoutScope = new Map<string, Promise<[Caller, Caller]>>();
  const tokensWithout = (scope: string) => {
    if (!withoutScope.has(scope)) {
      const otherData = DATA_SCOPES.filter((s) => s !== scope);
      const otherAdmin = ADMIN_SCOPES.filter((s) => s !== scope);
      withoutScope.set(scope, Promise.all([callerWith(vault, { scopes: [...otherData], purposes: ['account_management'] }, otherData.join(' '), 'account_management'), adminCaller(vault, [...otherAdmin])]));
    }
    return withoutScope.get(scope)!;
  };

  it.each(securedOperations.map((op) => [op.label, op] as const))('%s refuses a data token and an admin token holding every scope but its own', async (_label, op) => {
    const [dataToken, adminToken] = await tokensWithout(op.scope!);
    await expectDenied(op, dataToken.token, 403, ['insufficient_scope']);
    await expectDenied(op, adminToken.token, 403, ['insufficient_scope']);
  });
});

describe('a refusal never follows a write', () => {
  // Found by this suite: PATCH with subjects:write alone once committed the change and then answered
  // 403, because the answer was rendered through a subjects.read decision.
  it.each(OPERATIONS.filter((op) => op.scope && op.body === 'json').map((op) => [op.label, op] as const))(
    '%s with a token holding exactly its scope either succeeds or writes nothing',
    async (_label, op) => {
      const subject = await createSubject(vault, account, { name: 'Write Target' });
      const path = concretePath(op, fixtures, op.template.startsWith('/v1/subjects/{id}') ? { id: subject.id } : {});
      const before = await dataFingerprint(vault);
      const req = attack(vault, fixtures, op, path);
      if (op.label === 'PATCH /v1/subjects/{id}') req.set('If-Match', subject.etag);
      const res = await req.send(validBody(op, fixtures));
      expect(res.status).toBeLessThan(500);
      if (res.status >= 400) {
        expectRefused(res, op.label);
        expectNothingWritten(before, await dataFingerprint(vault), `${op.label} answered ${res.status} ${res.body.code}`);
      }
    },
  );
});

describe('purposes: a token sees only what its purpose may see', () => {
  it('refuses a billing token at the reveal route even with the reveal scope, and reveals nothing', async () => {
    const billing = await callerWith(vault, { scopes: ['payment_methods:read', 'payment_methods:reveal'], purposes: ['billing'] }, 'payment_methods:read payment_methods:reveal', 'billing');
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/payment-methods/{token}/reveal')!;
    await expectDenied(op, billing.token, 403, ['field_not_allowed']);
  });

  it('refuses an account-management token at the reveal route: it sees cards masked only', async () => {
    const holder = await callerWith(vault, { scopes: ['payment_methods:reveal'], purposes: ['account_management'] }, 'payment_methods:reveal', 'account_management');
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/payment-methods/{token}/reveal')!;
    await expectDenied(op, holder.token, 403, ['field_not_allowed']);
  });

  it('never shows an analytics contractor the subject id or any personal field', async () => {
    const analytics = await contractor(vault, 'analytics');
    const res = await vault.get(`/v1/subjects/${fixtures.subjectId}`).set('Authorization', auth(analytics)).expect(200);
    expect(JSON.stringify(res.body)).not.toContain(fixtures.subjectId);
    for (const field of ['email', 'name', 'phone', 'birth_date', 'external_id']) expect(res.body[field] ?? null).toBeNull();
    expect(JSON.stringify(res.body)).not.toContain('Downing');
  });

  // Found by this suite: the export once handed any subjects:read token the access log (who read the
  // subject, for what) and the consent history. Export now needs a purpose that sees every field plain.
  it.each(['shipping', 'analytics'])('does not hand the %s contractor the access log or consent history through the export', async (purpose) => {
    const reader = await contractor(vault, purpose);
    const res = await vault.get(`/v1/subjects/${fixtures.subjectId}/export`).set('Authorization', auth(reader));
    expect(res.status).toBeLessThan(500);
    const leaked = res.status === 200 ? ['access_log', 'consent_history'].filter((key) => res.body[key] !== undefined) : [];
    expect({ purpose, leaked }).toEqual({ purpose, leaked: [] });
  });

  it('does not let a purpose named in the query string or a header widen what a shipping token sees', async () => {
    const shipping = await contractor(vault, 'shipping');
    const plain = await vault.get(`/v1/subjects/${fixtures.subjectId}`).set('Authorization', auth(shipping)).expect(200);
    expect(plain.body.email).toBeUndefined();
    for (const path of [`/v1/subjects/${fixtures.subjectId}?purpose=account_management`, `/v1/subjects/${fixtures.subjectId}?purpose=legal_disclosure&scope=admin:clients`]) {
      const res = await vault.get(path).set('Authorization', auth(shipping)).expect(400);
      expect(res.body).toEqual(expect.objectContaining({ code: 'invalid_query' }));
      expect(JSON.stringify(res.body)).not.toContain('@');
    }
    const withHeader = await vault.get(`/v1/subjects/${fixtures.subjectId}`).set('Authorization', auth(shipping)).set('X-Purpose', 'account_management').expect(200);
    expect(withHeader.body.email).toBeUndefined();
    expect(withHeader.body.phone).toBeUndefined();
  });

  it('refuses a newsletter token on subject routes and a shipping token on email resolution', async () => {
    const newsletter = await dataCaller(vault, 'emails:resolve', 'newsletter');
    const shipping = await contractor(vault, 'shipping');
    await expectDenied(OPERATIONS.find((o) => o.label === 'GET /v1/subjects/{id}')!, newsletter.token, 403, ['insufficient_scope']);
    await expectDenied(OPERATIONS.find((o) => o.label === 'GET /v1/subjects/{id}/email')!, shipping.token, 403, ['insufficient_scope']);
  });
});

describe('clients that may no longer act', () => {
  const dataOperationsOf = (scope: string) => securedOperations.filter((op) => op.scope === scope);

  it('refuses every subjects:read route to a contractor whose grant has expired', async () => {
    const credentials = await registerClient(vault, { kind: 'contractor', scopes: ['subjects:read'], purposes: ['shipping'], expiresAt: new Date(Date.now() + 3_600_000) });
    const res = await vault.post('/oauth/token').set('Authorization', basic(credentials)).type('form').send({ grant_type: 'client_credentials', scope: 'subjects:read', purpose: 'shipping' }).expect(200);
    await vault.vault.db('clients').where({ id: credentials.clientId }).update({ expires_at: new Date(Date.now() - 1000) });
    for (const op of dataOperationsOf('subjects:read')) await expectDenied(op, res.body.access_token, 401, ['invalid_token']);
  });

  it('refuses every route of its scope to a disabled client, disabled through the admin API', async () => {
    const writer = await callerWith(vault, { scopes: ['subjects:write'], purposes: ['account_management'] }, 'subjects:write', 'account_management');
    const admin = fixtures.callers.get('admin:clients')!;
    await vault.post(`/v1/admin/clients/${writer.credentials.clientId}/disable`).set('Authorization', auth(admin)).expect(200);
    for (const op of dataOperationsOf('subjects:write')) await expectDenied(op, writer.token, 401, ['invalid_token']);
  });

  it('does not let an admin re-enable a disabled client by patching enabled', async () => {
    const victim = await registerClient(vault, { scopes: ['subjects:read'], purposes: ['shipping'] });
    const admin = fixtures.callers.get('admin:clients')!;
    await vault.post(`/v1/admin/clients/${victim.clientId}/disable`).set('Authorization', auth(admin)).expect(200);
    const op = OPERATIONS.find((o) => o.label === 'PATCH /v1/admin/clients/{id}')!;
    const before = await dataFingerprint(vault);
    const res = await attack(vault, fixtures, op, `/v1/admin/clients/${victim.clientId}`).send({ enabled: true });
    expectRefused(res, 'PATCH enabled');
    expectNothingWritten(before, await dataFingerprint(vault), 'PATCH enabled');
  });
});

describe('mass assignment of what the vault manages', () => {
  const READ_ONLY_SUBJECT = { id: 'sub_AAAAAAAAAAAAAAAAAAAAAA', version: 99, created_at: '2000-01-01T00:00:00Z', updated_at: '2000-01-01T00:00:00Z', etag: '"99"', erased: true, subject_key: 'AAAA' };

  it.each(Object.entries(READ_ONLY_SUBJECT))('refuses %s on subject creation with 422 read_only_property and creates nothing', async (name, value) => {
    const before = await dataFingerprint(vault);
    const res = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ ...SAMPLE, [name]: value }).expect(422);
    expect(res.body.code).toBe('read_only_property');
    expect(res.body.errors).toEqual([{ pointer: `/${name}`, detail: expect.any(String) }]);
    expectNothingWritten(before, await dataFingerprint(vault), `POST with ${name}`);
  });

  it.each(Object.entries(READ_ONLY_SUBJECT))('refuses %s in a subject update with 422 read_only_property and changes nothing', async (name, value) => {
    const subject = await createSubject(vault, account, { name: `Patch Target ${name}` });
    const before = await dataFingerprint(vault);
    const res = await vault.patch(`/v1/subjects/${subject.id}`).set('Authorization', auth(account)).set('If-Match', subject.etag).send({ name: 'Renamed', [name]: value }).expect(422);
    expect(res.body.code).toBe('read_only_property');
    expectNothingWritten(before, await dataFingerprint(vault), `PATCH with ${name}`);
  });

  it.each([['token', 'pm_AAAAAAAAAAAAAAAAAAAAAA'], ['subject_id', 'sub_AAAAAAAAAAAAAAAAAAAAAA'], ['brand', 'amex'], ['last4', '0000'], ['fingerprint', 'x'], ['created_at', '2000-01-01T00:00:00Z']])(
    'refuses %s on card tokenization and stores no card',
    async (name, value) => {
      const op = OPERATIONS.find((o) => o.label === 'POST /v1/subjects/{id}/payment-methods')!;
      const before = await dataFingerprint(vault);
      const res = await attack(vault, fixtures, op).send({ ...validBody(op, fixtures), [name]: value });
      expectRefused(res, `card with ${name}`);
      expect(res.status).toBe(422);
      expectNothingWritten(before, await dataFingerprint(vault), `card with ${name}`);
    },
  );

  it.each([['client_id', 'cli_AAAAAAAAAAAAAAAA'], ['enabled', false], ['secret_hash', '$argon2id$x'], ['client_secret', 'chosen-by-attacker'], ['created_at', '2000-01-01T00:00:00Z']])(
    'refuses %s on client registration and registers nothing',
    async (name, value) => {
      const op = OPERATIONS.find((o) => o.label === 'POST /v1/admin/clients')!;
      const before = await dataFingerprint(vault);
      const res = await attack(vault, fixtures, op).send({ ...validBody(op, fixtures), name: `mass-${name}`, [name]: value });
      expectRefused(res, `client with ${name}`);
      expectNothingWritten(before, await dataFingerprint(vault), `client with ${name}`);
    },
  );

  it.each([['state', 'approved'], ['approved_by', 'cli_AAAAAAAAAAAAAAAA'], ['approved_at', '2000-01-01T00:00:00Z'], ['approval_id', 'apr_AAAAAAAAAAAAAAAAAAAAAA']])(
    'refuses %s on a break-glass approval request and stores none',
    async (name, value) => {
      const op = OPERATIONS.find((o) => o.label === 'POST /v1/admin/approvals')!;
      const before = await dataFingerprint(vault);
      const res = await attack(vault, fixtures, op).send({ ...validBody(op, fixtures), [name]: value });
      expectRefused(res, `approval with ${name}`);
      expectNothingWritten(before, await dataFingerprint(vault), `approval with ${name}`);
    },
  );

  it('refuses to switch transactional messages off and keeps no consent record of the attempt', async () => {
    const before = await dataFingerprint(vault);
    const res = await vault.put(`/v1/subjects/${fixtures.subjectId}/preferences`).set('Authorization', auth(account)).send({ newsletter: false, transactional: false }).expect(422);
    expect(res.body.code).toBe('transactional_cannot_be_disabled');
    expectNothingWritten(before, await dataFingerprint(vault), 'transactional off');
  });
});

describe('purposes and scopes that only look right at the token endpoint', () => {
  let credentials: { clientId: string; clientSecret: string };
  beforeAll(async () => {
    credentials = await registerClient(vault, { scopes: ['subjects:read', 'subjects:write'], purposes: ['account_management'] });
  });

  const tokenRequest = (params: Record<string, string>) =>
    vault.post('/oauth/token').set('Authorization', basic(credentials)).type('form').send({ grant_type: 'client_credentials', ...params });

  it.each([
    ['a Cyrillic а', 'аccount_management'],
    ['a Cyrillic о inside', 'acc\u043eunt_management'],
    ['fullwidth letters', 'ａｃｃｏｕｎｔ_management'],
    ['a trailing space', 'account_management '],
    ['a leading tab', '\taccount_management'],
    ['upper case', 'ACCOUNT_MANAGEMENT'],
    ['title case', 'Account_management'],
    ['a zero-width space', 'account\u200b_management'],
    ['a combining mark', 'account_managemente\u0301'],
    ['a NUL', 'account_management\u0000'],
    ['two purposes', 'account_management billing'],
    ['a comma list', 'account_management,legal_disclosure'],
  ])('refuses a purpose with %s and issues no token', async (_label, purpose) => {
    const before = await dataFingerprint(vault);
    const res = await tokenRequest({ scope: 'subjects:read', purpose });
    expectRefused(res, `purpose ${JSON.stringify(purpose)}`);
    expect(res.status).toBe(400);
    // Not one purpose (white space, a NUL) is a malformed request; one the vault does not know, an unknown scope value.
    expect(res.body.error).toBe(/\s/.test(purpose) || purpose.includes('\u0000') ? 'invalid_request' : 'invalid_scope');
    expect(res.body.access_token).toBeUndefined();
    expectNothingWritten(before, await dataFingerprint(vault), 'purpose look-alike');
  });

  it.each([
    ['a Cyrillic е', 'subjects:rеad'],
    ['fullwidth letters', 'ｓubjects:read'],
    ['a trailing space', 'subjects:read '],
    ['two spaces between scopes', 'subjects:read  subjects:write'],
    ['upper case', 'SUBJECTS:READ'],
    ['a NUL', 'subjects:read\u0000'],
    ['a NUL between scopes', 'subjects:read\u0000admin:clients'],
    ['a tab between scopes', 'subjects:read\tadmin:clients'],
    ['a wildcard', 'subjects:*'],
    ['a comma list', 'subjects:read,admin:clients'],
  ])('refuses a scope with %s and issues no token', async (_label, scope) => {
    const res = await tokenRequest({ scope, purpose: 'account_management' });
    expectRefused(res, `scope ${JSON.stringify(scope)}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(scope.includes('\u0000') ? 'invalid_request' : 'invalid_scope');
    expect(res.body.access_token).toBeUndefined();
  });

  it('issues a token for the exact purpose and scope, so the refusals above are about the look-alikes', async () => {
    const res = await tokenRequest({ scope: 'subjects:read', purpose: 'account_management' });
    expect(res.status).toBe(200);
  });

  it('is still alive', async () => {
    await expectAlive(vault);
  });
});
