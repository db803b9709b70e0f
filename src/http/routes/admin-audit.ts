import type { Request, Router } from 'express';
import { z } from 'zod';
import type { Audit } from '../../audit/audit';
import type { AuditReader } from '../../audit/trail';
import { VaultError } from '../../errors/vault-error';
import { accessContextOf } from '../access-context';
import { principalOf } from '../middleware/authenticate';
import type { SecuredRoutes } from '../secured-routes';
import { auditRefusals } from './audit-refusals';
import { caseSensitiveRouter } from '../route-table';
import { escapePointer } from '../middleware/input-hygiene';

const SCOPE = 'audit:read';
const identifier = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'Not an identifier');
// RFC 3339 §5.6 lets `T` and `Z` be written in lower case; zod's check takes only upper.
export const rfc3339Time = z
  .string()
  .transform((value) => value.replace(/^(\d{4}-\d{2}-\d{2})t/, '$1T').replace(/z$/, 'Z'))
  .pipe(z.iso.datetime({ offset: true }))
  .transform((value) => new Date(value));

export const Paging = {
  // Digits only: Number() would also take 0x10, 1e2 and surrounding spaces.
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'a whole number from 1 to 1000')
    .transform(Number)
    .pipe(z.number().min(1, 'a whole number from 1 to 1000').max(1000, 'a whole number from 1 to 1000'))
    .default(100),
  cursor: z.string().max(200).optional(),
};

const AuditQuery = z.strictObject({
  subject_id: identifier.optional(),
  client_id: identifier.optional(),
  purpose: identifier.optional(),
  outcome: z.enum(['allowed', 'denied']).optional(),
  action: identifier.optional(),
  since: rfc3339Time.optional(),
  until: rfc3339Time.optional(),
  ...Paging,
});

/** GET /v1/admin/audit (query the trail) and GET /v1/admin/audit/verify (walk the chain); scope audit:read. */
export function adminAuditRoutes(secured: SecuredRoutes, audit: Audit): Router {
  const router = caseSensitiveRouter();
  secured.add(router, '/v1/admin/audit', SCOPE, {
    get: async (req, res) => {
      const query = parseQuery(AuditQuery, req.query);
      const page = await audit.trail.query(
        { subjectId: query.subject_id, clientId: query.client_id, purpose: query.purpose, outcome: query.outcome, action: query.action, since: query.since, until: query.until, limit: query.limit, cursor: query.cursor },
        readerOf(req),
      );
      res.json({ events: page.items, next_cursor: page.nextCursor });
    },
  }, { query: 'parsed by the handler' });
  secured.add(router, '/v1/admin/audit/verify', SCOPE, {
    get: async (req, res) => {
      res.json(await audit.trail.verify(readerOf(req)));
    },
  });
  router.use('/v1/admin/audit', auditRefusals(audit.writer, 'audit.access'));
  return router;
}

export function readerOf(req: Request): AuditReader {
  const principal = principalOf(req);
  return { clientId: principal.clientId, scopes: principal.scopes, ...accessContextOf(req) };
}

/** Query parameters against `schema`; each problem names its parameter. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  // A parameter given twice (`limit=1&limit=2`) arrives as a list: which one was meant is not the vault's guess.
  const repeated = Object.entries((query ?? {}) as Record<string, unknown>).filter(([, value]) => typeof value !== 'string').map(([name]) => name);
  if (repeated.length) {
    throw new VaultError('invalid_query', 400, 'The query parameters are not valid', {
      errors: repeated.map((name) => ({ pointer: `/${escapePointer(name)}`, detail: 'must be given once, as plain text' })),
    });
  }
  const parsed = schema.safeParse(query ?? {});
  if (parsed.success) return parsed.data;
  throw new VaultError('invalid_query', 400, 'The query parameters are not valid', {
    // zod words an unknown parameter with its name; the pointer already names it, as far as it is repeated back.
    errors: parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ pointer: `/${escapePointer(key)}`, detail: 'unknown parameter' }))
        : [{ pointer: issue.path.map((segment) => `/${escapePointer(String(segment))}`).join(''), detail: issue.message }],
    ),
  });
}
