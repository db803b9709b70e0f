import fc from 'fast-check';
import { isCleanString } from '../../src/http/middleware/input-hygiene';
import { hasForbiddenCharacters } from '../../src/vault/input/text-rules';
import request from 'supertest';
import { startTestVault, type TestVault } from '../support/test-vault';
import {
  concretePath,
  dataFingerprint,
  expectAlive,
  expectCleanLogs,
  expectNothingWritten,
  expectRefused,
  OPERATIONS,
  prepareFixtures,
  type Fixtures,
  type Method,
  type Operation,
} from './support/attack-surface';
import { basic } from '../identity/support/identity-helpers';
import { LOG_MARKER, NASTY_TEXT, validBody } from './support/payloads';

let vault: TestVault;
let fixtures: Fixtures;
beforeAll(async () => {
  vault = await startTestVault();
  fixtures = await prepareFixtures(vault);
}, 60_000);
afterAll(() => vault?.stop());

/**
 * The fuzzer's budget is a number of requests, not a time: each property gets a share of it,
 * shrinking included, and stops sending once it is spent, so the file's length does not depend
 * on what fast-check finds.
 */
const REQUEST_BUDGET = 420;
let requestsSent = 0;
const budgetLeft = () => requestsSent < REQUEST_BUDGET;

const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const shortHostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(...NASTY_TEXT),
  fc.tuple(fc.string({ maxLength: 4 }), loneSurrogate, fc.string({ maxLength: 4 })).map(([a, s, b]) => a + s + b),
);
const hostileString = fc.oneof(
  { weight: 4, arbitrary: shortHostile },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 70_000 }).map((n) => 'y'.repeat(n)) },
);
const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', 'version', 'created_at', 'etag', 'cvv', 'transactional', 'number', 'email', 'scopes', 'subject_ids'),
  shortHostile,
);

/** JSON text, written by hand so that keys like __proto__ reach the wire as they would from an attacker. */
const { json } = fc.letrec<{ json: string }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    hostileString.map((s) => JSON.stringify(s)),
    fc.constantFrom('0', '-0', '1e400', '4000056655665556000', '1.5', 'true', 'false', 'null', '12345678901234567890123'),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    fc.array(tie('json'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
    fc.array(fc.tuple(hostileKey, tie('json')), { maxLength: 5 }).map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
}));

/** A valid body of the operation with one property set to anything: the likeliest way past the first checks. */
const mutatedBody = (op: Operation) =>
  fc.tuple(hostileKey, json).map(([key, value]) => {
    const base = JSON.stringify({ ...validBody(op, fixtures), [key === '__proto__' ? '@@k' : key]: '@@v' });
    return base.replace('"@@k"', '"__proto__"').replace('"@@v"', value);
  });

const formBody = fc
  .record({ grant_type: fc.constantFrom('client_credentials', 'password', ''), scope: shortHostile, purpose: shortHostile, token: shortHostile }, { requiredKeys: [] })
  .map((params) => Object.entries(params).map(([k, v]) => `${k}=${encodeSegment(v)}`).join('&'));

/** Percent-encodes any string, lone surrogates included (as the UTF-8 bytes a careless client would send). */
function encodeSegment(value: string): string {
  return Array.from(value)
    .map((ch) => {
      try {
        return encodeURIComponent(ch);
      } catch {
        return '%ED%A0%80';
      }
    })
    .join('');
}

interface Sample {
  op: Operation;
  method: Method;
  path: string;
  body?: string;
  contentType: string;
}

const sample: fc.Arbitrary<Sample> = fc.constantFrom(...OPERATIONS).chain((op) =>
  fc.record({
    op: fc.constant(op),
    method: fc.oneof({ weight: 4, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
    params: fc.array(fc.option(shortHostile.map(encodeSegment), { freq: 2 }), { minLength: op.pathParams.length, maxLength: op.pathParams.length }),
    query: fc.option(fc.array(fc.tuple(shortHostile, shortHostile), { maxLength: 3 }), { freq: 2 }),
    body: fc.option(op.body === 'form' ? formBody : op.body === 'json' ? fc.oneof(mutatedBody(op), json, fc.string({ unit: 'binary', maxLength: 64 })) : json, { freq: 4 }),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constant(op.body === 'form' ? 'application/x-www-form-urlencoded' : 'application/json') },
      { weight: 1, arbitrary: fc.constantFrom('application/json', 'application/merge-patch+json', 'text/plain', 'application/json; charset=utf-16') },
    ),
  }).map(({ op, method, params, query, body, contentType }) => {
    const overrides = Object.fromEntries(op.pathParams.flatMap((name, i) => (params[i] ? [[name, params[i]]] : [])));
    const search = query?.length ? '?' + query.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&') : '';
    return { op, method, path: concretePath(op, fixtures, overrides) + search, body: body ?? undefined, contentType };
  }),
);

async function send(s: Sample) {
  requestsSent += 1;
  const req = request(vault.url)[s.method](s.path).ca(vault.ca).ok(() => true);
  if (s.op.scope) req.set('Authorization', `Bearer ${fixtures.callers.get(s.op.scope)!.token}`);
  else if (s.op.template.startsWith('/oauth/')) req.set('Authorization', basic(fixtures.client));
  if (s.op.headerParams.includes('If-Match') && s.op.template.startsWith('/v1/subjects/')) req.set('If-Match', fixtures.subjectEtag);
  return s.body === undefined ? req : req.set('Content-Type', s.contentType).send(s.body);
}

/** Not a 5xx; a refusal is a problem the spec declares and writes nothing. A request the fuzzer made valid by chance may succeed. */
async function holdsUp(s: Sample): Promise<void> {
  if (!budgetLeft()) return;
  const before = await dataFingerprint(vault);
  const res = await send(s);
  const context = `${s.method.toUpperCase()} ${s.path.slice(0, 120)} ${s.body === undefined ? '' : s.body.slice(0, 120)}`;
  if (res.status >= 500) throw new Error(`${context}: ${res.status} ${res.text.slice(0, 200)}`);
  if (res.status >= 400) {
    expectRefused(res, context);
    expectNothingWritten(before, await dataFingerprint(vault), context);
  }
}

describe('random requests at the running HTTPS vault', () => {
  it('answers random bodies, paths, queries and methods on every route with a 4xx problem or a success, never a 5xx, writing nothing it refused', async () => {
    await fc.assert(fc.asyncProperty(sample, holdsUp), { numRuns: 220, endOnFailure: true });
  });

  it('answers valid bodies with one property set to random printable JSON with a 4xx problem or a success, writing nothing it refused', async () => {
    const printable = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom(...NASTY_TEXT.filter((t) => !hasForbiddenCharacters(t) && isCleanString(t))).map((v) => JSON.stringify(v)),
    );
    const edited = fc.constantFrom(...OPERATIONS.filter((op) => op.body === 'json')).chain((op) =>
      fc.tuple(fc.constant(op), fc.constantFrom(...Object.keys(validBody(op, fixtures)), 'extra'), printable),
    );
    await fc.assert(
      fc.asyncProperty(edited, ([op, key, value]) => {
        const body = JSON.stringify({ ...validBody(op, fixtures), [key]: '@@v' }).replace('"@@v"', value);
        return holdsUp({ op, method: op.method, path: concretePath(op, fixtures), body, contentType: 'application/json' });
      }),
      { numRuns: 120, endOnFailure: true },
    );
  });

  it('answers random raw bytes as a JSON body on every JSON route without a 5xx or a write', async () => {
    const raw = fc.record({
      op: fc.constantFrom(...OPERATIONS.filter((op) => op.body === 'json')),
      bytes: fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))),
    });
    await fc.assert(
      fc.asyncProperty(raw, ({ op, bytes }) => holdsUp({ op, method: op.method, path: concretePath(op, fixtures), body: bytes, contentType: 'application/json' })),
      { numRuns: 60, endOnFailure: true },
    );
  });

  it('spent no more requests than its budget, and the vault is alive with clean logs afterwards', async () => {
    expect(requestsSent).toBeLessThanOrEqual(REQUEST_BUDGET);
    await expectAlive(vault);
    expectCleanLogs(vault, [LOG_MARKER]);
  });
});
