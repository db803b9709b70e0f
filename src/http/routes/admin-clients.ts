import type { Request, Router } from 'express';
import { z } from 'zod';
import type { Actor } from '../../identity/audit-hook';
import { parseExpiry } from '../../identity/expiry';
import type { AuditSink } from '../../audit/writer';
import type { Identity } from '../../identity/identity';
import { accessContextOf } from '../access-context';
import { principalOf } from '../middleware/authenticate';
import { parseBody } from '../parse-body';
import type { SecuredRoutes } from '../secured-routes';
import { caseSensitiveRouter } from '../route-table';
import { auditRefusals } from './audit-refusals';

const expiry = z
  .string()
  .transform((value, ctx) => parseExpiry(value) ?? (ctx.addIssue({ code: 'custom', message: 'Not an RFC 3339 date (through the end of that day) or date-time that exists, ending before the year 10000 (as a date, 9999-12-30 at the latest)' }), z.NEVER));
const names = z.array(z.string().max(64)).max(64);

const Registration = z.strictObject({
  name: z.string(),
  kind: z.enum(['internal', 'contractor']).default('internal'),
  scopes: names,
  purposes: names.default([]),
  expires_at: expiry.nullable().optional(),
});

const SecretRotation = z.strictObject({
  end_previous: z.boolean({ error: 'end_previous must be true or false' }).default(false),
});

const GrantChange = z
  .strictObject({
    scopes: names.optional(),
    purposes: names.optional(),
    expires_at: expiry.nullable().optional(),
  })
  // A change that names nothing would still be recorded as one, and drop every instance's cached token checks.
  .refine((change) => Object.values(change).some((value) => value !== undefined), 'name at least one of scopes, purposes and expires_at');

/** /v1/admin/clients: register, list, read, change grants, disable, rotate secret (scope admin:clients). */
export function adminClientRoutes(routes: SecuredRoutes, identity: Identity, audit: AuditSink): Router {
  const router = caseSensitiveRouter();
  const { clients } = identity;
  const scope = 'admin:clients';

  routes.add(router, '/v1/admin/clients', scope, {
    get: async (_req, res) => {
      res.json({ clients: await clients.list() });
    },
    post: async (req, res) => {
      const body = parseBody(Registration, req.body);
      const issued = await clients.register(
        { name: body.name, kind: body.kind, scopes: body.scopes, purposes: body.purposes, expiresAt: body.expires_at },
        actorOf(req),
      );
      res.status(201).location(`/v1/admin/clients/${issued.client_id}`).json(issued);
    },
  });
  routes.add(router, '/v1/admin/clients/:id', scope, {
    get: async (req, res) => {
      res.json(await clients.describe(idOf(req)));
    },
    patch: async (req, res) => {
      const body = parseBody(GrantChange, req.body);
      res.json(await clients.changeGrants(idOf(req), { scopes: body.scopes, purposes: body.purposes, expiresAt: body.expires_at }, actorOf(req)));
    },
  });
  routes.add(router, '/v1/admin/clients/:id/disable', scope, {
    post: async (req, res) => {
      res.json(await clients.disable(idOf(req), actorOf(req)));
    },
  }, { body: 'none' });
  routes.add(router, '/v1/admin/clients/:id/rotate-secret', scope, {
    post: async (req, res) => {
      const body = parseBody(SecretRotation, req.body);
      res.json(await clients.rotateSecret(idOf(req), actorOf(req), { endPrevious: body.end_previous }));
    },
  });
  router.use('/v1/admin/clients', auditRefusals(audit, 'clients.access'));
  return router;
}

const idOf = (req: Request) => String(req.params.id);
const actorOf = (req: Request): Actor => {
  const principal = principalOf(req);
  // What the caller holds now: its token's scopes its client still has.
  const scopes = principal.scopes.filter((scope) => principal.currentGrants?.scopes.includes(scope));
  const { requestId, sourceAddress } = accessContextOf(req);
  return { via: 'api', clientId: principal.clientId, scopes, requestId, address: sourceAddress };
};
