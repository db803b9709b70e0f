import request, { type Response } from 'supertest';
import { isAdminScope } from '../../../src/identity/scopes';
import { hasForbiddenCharacters } from '../../../src/vault/input/text-rules';
import { basic, registerClient, type Credentials } from '../../identity/support/identity-helpers';
import { callerWith, type Caller } from '../../policy/support/principals';
import { expectMatchesSpec, spec } from '../../support/openapi';
import type { TestVault } from '../../support/test-vault';
import { accountService, createSubject, SAMPLE } from '../../vault/support/data-callers';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];

type Schema = { $ref?: string; type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; oneOf?: Schema[]; allOf?: Schema[] };
interface Parameter {
  $ref?: string;
  name: string;
  in: 'path' | 'query' | 'header';
}
interface RawOperation {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
}

/** One method of one path of openapi.yaml, as an attacker sees it: what to send and how to get past the token check. */
export interface Operation {
  method: Method;
  template: string;
  label: string;
  /** The scope its bearer token needs; undefined for public and client-credential routes. */
  scope?: string;
  /** `json` or `form` when the operation declares a request body. */
  body?: 'json' | 'form';
  bodySchema?: Schema;
  pathParams: string[];
  queryParams: string[];
  headerParams: string[];
}

const document = spec as unknown as { paths: Record<string, Record<string, unknown>>; components: Record<string, Record<string, unknown>> };

function resolve<T>(node: T & { $ref?: string }): T {
  if (!node.$ref) return node;
  const [, , section, name] = node.$ref.split('/');
  return resolve(document.components[section!]![name!] as T & { $ref?: string });
}

/** Every operation openapi.yaml declares; a route added to the spec is attacked without touching these tests. */
export const OPERATIONS: Operation[] = Object.entries(document.paths).flatMap(([template, item]) => {
  const shared = ((item.parameters ?? []) as Parameter[]).map(resolve);
  return METHODS.filter((method) => item[method]).map((method) => {
    const operation = item[method] as RawOperation;
    const parameters = [...shared, ...(operation.parameters ?? []).map(resolve)];
    const content = operation.requestBody?.content ?? {};
    const mediaType = Object.keys(content)[0];
    const scope = operation.security?.flatMap((requirement) => requirement.bearerToken ?? [])[0];
    return {
      method,
      template,
      label: `${method.toUpperCase()} ${template}`,
      scope,
      body: mediaType === undefined ? undefined : mediaType.includes('form') ? 'form' : 'json',
      bodySchema: mediaType === undefined ? undefined : content[mediaType]!.schema,
      pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
      queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name),
      headerParams: parameters.filter((p) => p.in === 'header').map((p) => p.name),
    } satisfies Operation;
  });
});

/** The names of the string-valued properties of a body schema (top level, and string arrays), where injected text lands. */
export function stringProperties(schema: Schema | undefined): Array<{ name: string; array: boolean }> {
  if (!schema) return [];
  const resolved = resolve(schema);
  return Object.entries(resolved.properties ?? {}).flatMap(([name, raw]): Array<{ name: string; array: boolean }> => {
    const property = resolve(raw);
    const types = [property.type ?? []].flat();
    if (types.includes('string') || (!property.type && !property.properties && !property.items)) return [{ name, array: false }];
    if (types.includes('array') && [resolve(property.items ?? {}).type].flat().includes('string')) return [{ name, array: true }];
    return [];
  });
}

// The one purpose a token for each data scope is bound to here: one the policy lets see what the route serves.
const PURPOSE_FOR_SCOPE: Record<string, string> = {
  'subjects:read': 'account_management',
  'subjects:write': 'account_management',
  'subjects:search': 'account_management',
  'preferences:write': 'account_management',
  'payment_methods:write': 'account_management',
  'payment_methods:read': 'billing',
  'payment_methods:reveal': 'payment_processing',
  'emails:resolve': 'transactional_email',
};

export function purposeFor(scope: string): string | undefined {
  if (isAdminScope(scope)) return undefined;
  const purpose = PURPOSE_FOR_SCOPE[scope];
  if (!purpose) throw new Error(`openapi.yaml names data scope ${scope}: choose the purpose its attacks are made with in attack-surface.ts`);
  return purpose;
}

/** Real things for the ids in a path: attacks then reach validation of a subject, a card, a client that exist. */
export interface Fixtures {
  /** A token holding exactly the scope, per scope any operation in the spec needs. */
  callers: Map<string, Caller>;
  /** Client credentials for the OAuth endpoints. */
  client: Credentials;
  subjectId: string;
  subjectEtag: string;
  paymentMethodToken: string;
}

export async function prepareFixtures(vault: TestVault): Promise<Fixtures> {
  const scopes = [...new Set(OPERATIONS.flatMap((op) => (op.scope ? [op.scope] : [])))];
  const callers = new Map<string, Caller>();
  for (const scope of scopes) {
    const purpose = purposeFor(scope);
    callers.set(scope, await callerWith(vault, { scopes: [scope], purposes: purpose ? [purpose] : [] }, scope, purpose));
  }
  const account = await accountService(vault);
  const subject = await createSubject(vault, account, { ...SAMPLE, email: 'fixture.subject@example.com' });
  const card = await vault
    .post(`/v1/subjects/${subject.id}/payment-methods`)
    .set('Authorization', `Bearer ${account.token}`)
    .send({ number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 2, holder_name: 'Jo Example' })
    .expect(201);
  // A search once, so the blind-index key exists before any attack counts rows.
  await vault.post('/v1/subjects/search').set('Authorization', `Bearer ${account.token}`).send({ email: 'nobody@example.com' }).expect(200);
  const client = await registerClient(vault, { scopes: ['subjects:read'], purposes: ['shipping'] });
  return { callers, client, subjectId: subject.id, subjectEtag: subject.etag, paymentMethodToken: card.body.token as string };
}

// Ids of things that exist for subjects and cards; plausible ids of things that do not for the rest, so no attack acts on a real client.
export function concretePath(op: Operation, fixtures: Fixtures, override: Record<string, string> = {}): string {
  return op.template.replace(/\{([^}]+)\}/g, (_all, name: string) => {
    if (name in override) return override[name]!;
    if (name === 'token') return fixtures.paymentMethodToken;
    if (name === 'version') return '1';
    if (op.template.startsWith('/v1/subjects/')) return fixtures.subjectId;
    if (op.template.startsWith('/v1/admin/clients/')) return 'cli_AAAAAAAAAAAAAAAA';
    if (op.template.startsWith('/v1/admin/approvals/')) return 'apr_AAAAAAAAAAAAAAAAAAAAAA';
    return 'x_AAAAAAAAAAAAAAAA';
  });
}

/** A request for `op` at `path`, with the credentials that get it past authentication and its scope. */
export function attack(vault: TestVault, fixtures: Fixtures, op: Operation, path = concretePath(op, fixtures)): request.Test {
  const req = request(vault.url)[op.method](path).ca(vault.ca).ok(() => true);
  if (op.scope) req.set('Authorization', `Bearer ${fixtures.callers.get(op.scope)!.token}`);
  else if (op.template.startsWith('/oauth/')) req.set('Authorization', basic(fixtures.client));
  if (op.headerParams.some((h) => h.toLowerCase() === 'if-match') && op.template.startsWith('/v1/subjects/')) req.set('If-Match', fixtures.subjectEtag);
  return req;
}

/**
 * The vault refused the request as a client error: a 4xx, as a problem document valid against
 * the spec (or, at the OAuth endpoints, the RFC 6749 error body the spec declares there), and
 * the answer is one openapi.yaml declares for the route.
 */
export function expectRefused(res: Response, context: string): void {
  const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  const problem = mediaType === 'application/problem+json';
  const oauthError = mediaType === 'application/json' && typeof (res.body as { error?: unknown }).error === 'string';
  if (res.status < 400 || res.status > 499 || !(problem || oauthError)) {
    throw new Error(`${context}: expected a 4xx problem, got ${res.status} ${mediaType}: ${res.text.slice(0, 300)}`);
  }
  try {
    expectMatchesSpec(res);
  } catch (error) {
    throw new Error(`${context}: ${(error as Error).message}`, { cause: error });
  }
}

/** An authenticated request that got past the token check: neither 401 nor 403 insufficient_scope. */
export function expectPastAuthentication(res: Response, context: string): void {
  if (res.status === 401 || (res.status === 403 && (res.body as { code?: string }).code === 'insufficient_scope')) {
    throw new Error(`${context}: the request did not reach validation (${res.status} ${res.text.slice(0, 200)})`);
  }
}

// Tables a refused request may write to: the audit trail (refusals are audited) and failed-authentication throttling.
const MAY_CHANGE_ON_REFUSAL = new Set(['audit_events', 'audit_chain_head', 'audit_checkpoints', 'audit_checkpoint_keys', 'auth_failures', 'knex_migrations', 'knex_migrations_lock']);

/**
 * A fingerprint of every row of every data table (subjects, payment_methods, consent_history,
 * idempotency_keys, clients, policy_versions, approvals, keys …): equal fingerprints mean nothing
 * was inserted, updated or deleted.
 */
export async function dataFingerprint(vault: TestVault): Promise<Record<string, string>> {
  const db = vault.vault.db;
  const tables = (await db('information_schema.tables').where({ table_schema: 'public', table_type: 'BASE TABLE' }).pluck('table_name')) as string[];
  const watched = tables.filter((t) => !MAY_CHANGE_ON_REFUSAL.has(t)).sort();
  const sql = watched
    .map((t) => `select '${t}' as t, count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as f from "${t}" x`)
    .join(' union all ');
  const rows = (await db.raw(sql)).rows as Array<{ t: string; f: string }>;
  return Object.fromEntries(rows.map((r) => [r.t, r.f]));
}

export function expectNothingWritten(before: Record<string, string>, after: Record<string, string>, context: string): void {
  const changed = Object.keys({ ...before, ...after }).filter((t) => before[t] !== after[t]);
  if (changed.length) throw new Error(`${context}: a refused request changed ${changed.join(', ')}`);
}

export async function expectAlive(vault: TestVault): Promise<void> {
  await vault.get('/healthz').expect(200);
}

/** Every log line is one JSON document: no attacker text broke a line or smuggled a terminal escape in. */
export function expectCleanLogs(vault: TestVault, forbidden: string[]): void {
  for (const line of vault.logs) {
    expect(() => JSON.parse(line)).not.toThrow();
    expect(hasForbiddenCharacters(line)).toBe(false);
    for (const text of forbidden) expect(line).not.toContain(text);
  }
}
