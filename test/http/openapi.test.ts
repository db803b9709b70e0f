import type { Response } from 'supertest';
import { expectMatchesSpec, spec } from '../support/openapi';
import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
});
afterAll(() => vault.stop());

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];

it('describes exactly the routes the vault serves, no more and no fewer', () => {
  const served = vault.vault.routes.entries
    .flatMap(({ path, methods }) => methods.map((m) => `${m.toUpperCase()} ${path.replace(/:(\w+)/g, '{$1}')}`))
    .sort();
  const described = Object.entries(spec.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((k) => HTTP_METHODS.includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
  expect(served).toEqual(described);
});

it('reads a body on exactly the operations that declare one, of the media type they declare', () => {
  const paths = spec.paths as Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
  const read = vault.vault.routes.entries.flatMap(({ path, bodies }) =>
    Object.entries(bodies).map(([method, kind]) => `${method.toUpperCase()} ${path}: ${kind}`),
  );
  const declared = vault.vault.routes.entries.flatMap(({ path, bodies }) =>
    Object.keys(bodies).map((method) => {
      const content = Object.keys(paths[path.replace(/:(\w+)/g, '{$1}')]?.[method]?.requestBody?.content ?? {});
      const kind = content.length === 0 ? 'none' : content.includes('application/x-www-form-urlencoded') ? 'form' : 'json';
      return `${method.toUpperCase()} ${path}: ${kind}`;
    }),
  );
  expect(read).toEqual(declared);
});

function fakeResponse(status: number, body: unknown, contentType = 'application/json'): Response {
  return {
    status,
    text: JSON.stringify(body),
    headers: { 'content-type': contentType },
    req: { method: 'GET', path: '/healthz' },
  } as unknown as Response;
}

describe('the response checker', () => {
  it('accepts a response the spec declares', () => {
    expect(() => expectMatchesSpec(fakeResponse(200, { status: 'ok' }))).not.toThrow();
  });

  it('refuses a body that does not match the declared schema', () => {
    expect(() => expectMatchesSpec(fakeResponse(200, { status: 'ok', extra: 1 }))).toThrow(/does not match openapi.yaml/);
  });

  it('takes a status the operation does not list only as the problem document of its default response', () => {
    expect(() => expectMatchesSpec(fakeResponse(418, { status: 'ok' }))).toThrow(/418: media type application\/json not declared/);
    const problem = { type: 'urn:pdvault:problem:expectation_failed', title: 'x', status: 417, code: 'expectation_failed', request_id: 'req_0123456789abcdef0123456789abcdef' };
    expect(() => expectMatchesSpec(fakeResponse(417, problem, 'application/problem+json'))).not.toThrow();
    expect(() => expectMatchesSpec(fakeResponse(417, { ...problem, code: 'not_in_the_catalogue' }, 'application/problem+json'))).toThrow();
  });

  it('refuses an undeclared media type', () => {
    expect(() => expectMatchesSpec(fakeResponse(200, { status: 'ok' }, 'text/html'))).toThrow(/media type text\/html not declared/);
  });
});
