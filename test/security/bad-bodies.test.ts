import { startTestVault, type TestVault } from '../support/test-vault';
import {
  attack,
  concretePath,
  dataFingerprint,
  expectAlive,
  expectCleanLogs,
  expectNothingWritten,
  expectPastAuthentication,
  expectRefused,
  OPERATIONS,
  prepareFixtures,
  stringProperties,
  type Fixtures,
  type Operation,
} from './support/attack-surface';
import { LOG_INJECTIONS, LOG_MARKER, NOT_STRING_LISTS, NOT_STRINGS, universallyRefusedBodies, validBody, withRawProperty } from './support/payloads';

let vault: TestVault;
let fixtures: Fixtures;
beforeAll(async () => {
  vault = await startTestVault({ PDVAULT_BODY_LIMIT_BYTES: String(64 * 1024) });
  fixtures = await prepareFixtures(vault);
}, 60_000);
afterAll(() => vault?.stop());

const limit = 64 * 1024;
const jsonOperations = OPERATIONS.filter((op) => op.body === 'json');
const securedOperations = OPERATIONS.filter((op) => op.scope);

/** Sends `text` as the body of `op` and holds the answer to: refused as a 4xx problem, past the token check. */
async function expectBodyRefused(op: Operation, label: string, text: string, contentType = 'application/json'): Promise<number> {
  const res = await attack(vault, fixtures, op).set('Content-Type', contentType).send(text);
  const context = `${op.label} with ${label}`;
  expectRefused(res, context);
  if (op.scope) expectPastAuthentication(res, context);
  return res.status;
}

/** Runs a batch of requests that must all be refused, and checks that together they wrote nothing. */
async function writingNothing(context: string, batch: () => Promise<void>): Promise<void> {
  const before = await dataFingerprint(vault);
  await batch();
  expectNothingWritten(before, await dataFingerprint(vault), context);
}

describe('bodies no route should ever have to read', () => {
  it.each(securedOperations.map((op) => [op.label, op] as const))('%s refuses malformed, deep, polluting, NUL-bearing and oversized JSON', async (_label, op) => {
    await writingNothing(op.label, async () => {
      for (const body of universallyRefusedBodies(limit)) await expectBodyRefused(op, body.label, body.text, body.contentType);
    });
  });

  it('refuses JSON at the form-encoded OAuth endpoints, whatever the JSON holds', async () => {
    await writingNothing('OAuth endpoints', async () => {
      for (const op of OPERATIONS.filter((o) => o.body === 'form')) {
        for (const body of universallyRefusedBodies(limit).filter((b) => !b.contentType?.includes('form'))) await expectBodyRefused(op, body.label, body.text, body.contentType);
      }
    });
  });

  it('answers a body over the limit with 413 body_too_large and an array nested past 32 levels with nesting_too_deep', async () => {
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/subjects')!;
    const huge = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send(JSON.stringify({ name: 'x'.repeat(limit) }));
    expect([huge.status, huge.body.code]).toEqual([413, 'body_too_large']);
    const deep = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send('['.repeat(40) + ']'.repeat(40));
    expect([deep.status, deep.body.code]).toEqual([400, 'nesting_too_deep']);
  });
});

describe('bodies that name a property twice', () => {
  // JSON.parse keeps the last; a filter in front of the vault may have read the first.
  it.each(jsonOperations.filter((op) => op.scope).map((op) => [op.label, op] as const))('%s refuses its valid body with one property named twice, and writes nothing', async (_label, op) => {
    const valid = validBody(op, fixtures);
    // A route without a sample body (the policy document) gets one that would otherwise fail only its own validation.
    const body = Object.keys(valid).length ? valid : { name: 'twice' };
    const [name, value] = Object.entries(body)[0]!;
    const text = JSON.stringify(body).replace(/}$/, `,${JSON.stringify(name)}:${JSON.stringify(value)}}`);
    await writingNothing(op.label, async () => {
      const res = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send(text);
      expect([res.status, res.body.code, res.body.errors?.[0]?.pointer]).toEqual([400, 'duplicate_property', `/${name}`]);
    });
  });

  it('recognises a name written with escapes as the same name, at any depth', async () => {
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/subjects')!;
    await writingNothing(op.label, async () => {
      const escaped = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send('{"email":"first@example.com","\\u0065mail":"second@example.com"}');
      expect([escaped.status, escaped.body.code, escaped.body.errors?.[0]?.pointer]).toEqual([400, 'duplicate_property', '/email']);
      const nested = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send('{"postal_address":{"line1":"1 Main St","city":"London","country":"GB","country":"US"}}');
      expect([nested.status, nested.body.code, nested.body.errors?.[0]?.pointer]).toEqual([400, 'duplicate_property', '/postal_address/country']);
    });
  });
});

describe('names that carry personal values', () => {
  // An email address, a card number and a phone number written where a name goes (alone, or in a
  // name otherwise plain): as a property, twice, and as a query parameter.
  const NAMES = ['jo.canary@example.com', '4111111111111111', '4111/1111/1111/1111', 'pan_4111111111111111', 'tel_15551234567', 'tel_15_55_12_34_56'];
  const echoes = (text: string) => NAMES.filter((name) => text.includes(name));

  it.each(jsonOperations.map((op) => [op.label, op] as const))('%s refuses them without repeating them back', async (_label, op) => {
    const base = validBody(op, fixtures);
    await writingNothing(op.label, async () => {
      for (const name of NAMES) {
        const unknown = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send(JSON.stringify({ ...base, [name]: 'x' }));
        expectRefused(unknown, `${op.label} with a member named ${name}`);
        const twice = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send(JSON.stringify({ ...base, [name]: 1 }).replace(/}$/, `,${JSON.stringify(name)}:2}`));
        expectRefused(twice, `${op.label} with ${name} named twice`);
        expect([echoes(unknown.text), echoes(twice.text)]).toEqual([[], []]);
      }
    });
  });

  it.each(OPERATIONS.filter((op) => op.queryParams.length > 0).map((op) => [op.label, op] as const))('%s refuses them as query parameters without repeating them back', async (_label, op) => {
    for (const name of NAMES) {
      const path = `${concretePath(op, fixtures)}?${encodeURIComponent(name)}=1`;
      const res = await attack(vault, fixtures, op, path);
      expectRefused(res, `${op.label} with a query parameter named ${name}`);
      expect(res.body.errors).toEqual([{ pointer: '', detail: 'unknown parameter (in a member whose name is not repeated back)' }]);
      expect(echoes(res.text)).toEqual([]);
    }
  });

  it('repeats a number as a pointer segment only where it indexes an array of the body', async () => {
    const subjects = OPERATIONS.find((o) => o.label === 'POST /v1/subjects')!;
    const named = await attack(vault, fixtures, subjects).set('Content-Type', 'application/json').send(JSON.stringify({ ...validBody(subjects, fixtures), 7319: 1 }));
    expect([named.status, named.body.errors]).toEqual([422, [{ pointer: '', detail: 'unknown property (in a member whose name is not repeated back)' }]]);

    const batch = OPERATIONS.find((o) => o.label === 'POST /v1/emails/resolve')!;
    const indexed = await attack(vault, fixtures, batch).set('Content-Type', 'application/json').send(JSON.stringify({ subject_ids: ['sub_AAAAAAAAAAAAAAAAAAAAAA', 7] }));
    expect([indexed.status, indexed.body.errors?.[0]?.pointer]).toEqual([422, '/subject_ids/1']);
  });

  it('still names a plain unknown property by its pointer', async () => {
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/subjects')!;
    const res = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send(JSON.stringify({ ...validBody(op, fixtures), nickname: 'x' }));
    expect([res.status, res.body.errors]).toEqual([422, [{ pointer: '/nickname', detail: 'unknown property' }]]);
  });
});

describe('bodies that parse but do not fit the route', () => {
  it.each(jsonOperations.map((op) => [op.label, op] as const))('%s refuses a wrong type in every property and a body that is not an object', async (_label, op) => {
    const base = validBody(op, fixtures);
    await writingNothing(op.label, async () => {
      for (const raw of ['[]', '[{}]', `[${JSON.stringify(base)}]`]) await expectBodyRefused(op, `the array ${raw.slice(0, 20)}`, raw);
      for (const { name, array } of stringProperties(op.bodySchema)) {
        for (const [label, value] of array ? NOT_STRING_LISTS : NOT_STRINGS) await expectBodyRefused(op, `${label} as ${name}`, withRawProperty(base, name, value));
      }
      await expectBodyRefused(op, 'an unknown property', JSON.stringify({ ...base, is_admin: true }));
    });
  });

  it.each(jsonOperations.map((op) => [op.label, op] as const))('%s refuses huge strings and arrays within the body limit', async (_label, op) => {
    const base = validBody(op, fixtures);
    const properties = stringProperties(op.bodySchema);
    await writingNothing(op.label, async () => {
      for (const { name, array } of properties) {
        const value = array ? Array.from({ length: 7000 }, (_, i) => `sub_${i}`) : 'x'.repeat(60_000);
        await expectBodyRefused(op, `a huge ${name}`, JSON.stringify({ ...base, [name]: value }));
      }
      if (properties.length === 0) await expectBodyRefused(op, 'a huge array', JSON.stringify(Array(30_000).fill(0)));
    });
  });

  it.each(jsonOperations.map((op) => [op.label, op] as const))('%s refuses control characters and terminal escapes in every text property', async (_label, op) => {
    const base = validBody(op, fixtures);
    await writingNothing(op.label, async () => {
      for (const { name, array } of stringProperties(op.bodySchema)) {
        for (const text of LOG_INJECTIONS) await expectBodyRefused(op, `log injection in ${name}`, JSON.stringify({ ...base, [name]: array ? [text] : text }));
      }
    });
  });

  it('refuses a 19-digit card number sent as a JSON number rather than rounding it, and stores no card', async () => {
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/subjects/{id}/payment-methods')!;
    const before = await vault.vault.db('payment_methods').count({ n: '*' });
    // As a double this is 6011000000000000000: a different card, had it been rounded rather than refused.
    const raw = withRawProperty(validBody(op, fixtures), 'number', '6011000000000000004');
    const res = await attack(vault, fixtures, op).set('Content-Type', 'application/json').send(raw);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: '/number' })]));
    expect(await vault.vault.db('payment_methods').count({ n: '*' })).toEqual(before);
  });

  it('refuses exp_month and exp_year given as strings, fractions or infinity', async () => {
    const op = OPERATIONS.find((o) => o.label === 'POST /v1/subjects/{id}/payment-methods')!;
    const base = validBody(op, fixtures);
    for (const [name, value] of [['exp_month', '"12"'], ['exp_month', '1.5'], ['exp_year', '1e400'], ['exp_year', '-0'], ['exp_year', 'null']] as const) {
      await writingNothing(`${value} as ${name}`, async () => {
        expect(await expectBodyRefused(op, `${value} as ${name}`, withRawProperty(base, name, value))).toBe(422);
      });
    }
  });
});

describe('after every bad body', () => {
  it('is still alive and wrote no attacker text into its logs', async () => {
    await expectAlive(vault);
    expectCleanLogs(vault, [LOG_MARKER]);
  });
});
