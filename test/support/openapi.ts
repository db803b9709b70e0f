import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import YAML from 'yaml';
import type { Response } from 'supertest';

interface Operation {
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
}
type PathItem = Record<string, Operation>;
interface Spec {
  paths: Record<string, PathItem>;
  components: {
    responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
    schemas: { Problem: { properties: { code: { 'x-problem-codes': Record<string, Record<string, string>> } } } };
  };
}

export const spec: Spec = YAML.parse(fs.readFileSync(path.resolve(__dirname, '../../openapi.yaml'), 'utf8'));
/** Every problem code the vault answers with, by status, as openapi.yaml catalogues them. */
export const problemCodes: Record<string, Record<string, string>> = spec.components.schemas.Problem.properties.code['x-problem-codes'];

/** Fails unless a problem's code is catalogued under its status, so a client can rely on the list. */
function expectCatalogued(res: Response): void {
  const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (mediaType !== 'application/problem+json') return;
  const code = (JSON.parse(res.text) as { code?: unknown }).code;
  if (typeof code !== 'string' || !Object.hasOwn(problemCodes[String(res.status)] ?? {}, code)) {
    throw new Error(`openapi.yaml catalogues no problem code ${String(code)} for status ${res.status} (x-problem-codes)`);
  }
}

const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(spec as object, 'openapi');

/** The spec's path template that matches a concrete path (`/v1/subjects/sub_1` → `/v1/subjects/{id}`). */
export function specPathFor(concrete: string): string | undefined {
  const pathOnly = concrete.split('?')[0]!;
  return Object.keys(spec.paths).find((template) => {
    const pattern = new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$');
    return pattern.test(pathOnly);
  });
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * Fails unless the response is one openapi.yaml declares for this method and path: a declared
 * status (or `default`), a declared media type, and a body valid against its schema.
 */
export function expectMatchesSpec(res: Response): void {
  const req = (res as unknown as { req: { method: string; path: string } }).req;
  const method = req.method.toLowerCase();
  const template = specPathFor(req.path);
  const operation = template ? spec.paths[template]![method] : undefined;
  if (res.text && method !== 'head') expectCatalogued(res);
  if (!template || !operation) {
    // A path or method the vault does not serve: the answer must still be a problem document.
    expectProblem(res, [404, 405, 400, 413, 415]);
    return;
  }
  const statusKey = String(res.status) in operation.responses ? String(res.status) : 'default';
  const declared = operation.responses[statusKey];
  if (!declared) throw new Error(`openapi.yaml declares no ${res.status} for ${method.toUpperCase()} ${template}`);
  const refName = declared.$ref?.split('/').pop();
  const base = refName ? `#/components/responses/${pointer(refName)}` : `#/paths/${pointer(template)}/${method}/responses/${statusKey}`;
  const content = refName ? spec.components.responses[refName]!.content : declared.content;
  if (!content) {
    if (res.text) throw new Error(`${method.toUpperCase()} ${template} ${res.status} has a body the spec does not declare`);
    return;
  }
  const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!(mediaType in content)) {
    throw new Error(`${method.toUpperCase()} ${template} ${res.status}: media type ${mediaType} not declared`);
  }
  if (!content[mediaType]!.schema || method === 'head') return;
  const validate = ajv.getSchema(`openapi${base}/content/${pointer(mediaType)}/schema`);
  if (!validate) throw new Error(`no schema at ${base}`);
  const body = mediaType.endsWith('json') ? JSON.parse(res.text) : res.text;
  if (!validate(body)) {
    throw new Error(`${method.toUpperCase()} ${template} ${res.status} does not match openapi.yaml: ${ajv.errorsText(validate.errors)}`);
  }
}

const validateProblem = () => ajv.getSchema('openapi#/components/schemas/Problem')!;

/** Fails unless the response is problem+json, valid against the Problem schema, with one of `statuses`. */
export function expectProblem(res: Response, statuses: number[]): void {
  if (!statuses.includes(res.status)) throw new Error(`expected a problem with status ${statuses.join('/')}, got ${res.status}: ${res.text}`);
  const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (mediaType !== 'application/problem+json') throw new Error(`expected application/problem+json, got ${mediaType}`);
  const validate = validateProblem();
  if (!validate(JSON.parse(res.text))) throw new Error(`not a valid problem: ${ajv.errorsText(validate.errors)}`);
}
