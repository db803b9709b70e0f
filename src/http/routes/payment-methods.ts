import type { Request, Router } from 'express';
import type { Audit } from '../../audit/audit';
import { parseCardInput } from '../../vault/input/card-input';
import type { VaultDomain } from '../../vault/vault';
import type { SecuredRoutes } from '../secured-routes';
import { auditRefusals } from './audit-refusals';
import { callerOf } from './subjects';
import { caseSensitiveRouter } from '../route-table';

/** Payment methods: the account service tokenizes cards, billing lists them masked, the processor reveals one. */
export function paymentMethodRoutes(routes: SecuredRoutes, vault: VaultDomain, audit: Audit): Router {
  const router = caseSensitiveRouter();

  routes.add(router, '/v1/subjects/:id/payment-methods', { post: 'payment_methods:write', get: 'payment_methods:read' }, {
    post: async (req, res) => {
      const card = parseCardInput(req.body);
      const result = await vault.paymentMethods.add(callerOf(req), subjectIdOf(req), card);
      res.status(result.created ? 201 : 200).location(`/v1/payment-methods/${result.view.token}`).json(result.view);
    },
    get: async (req, res) => {
      const subjectId = subjectIdOf(req);
      res.json({ subject_id: subjectId, payment_methods: await vault.paymentMethods.list(callerOf(req), subjectId) });
    },
  });
  routes.add(router, '/v1/payment-methods/:token', { get: 'payment_methods:read', delete: 'payment_methods:write' }, {
    get: async (req, res) => {
      res.json(await vault.paymentMethods.get(callerOf(req), tokenOf(req)));
    },
    delete: async (req, res) => {
      await vault.paymentMethods.delete(callerOf(req), tokenOf(req));
      res.status(204).end();
    },
  });
  routes.add(router, '/v1/payment-methods/:token/reveal', 'payment_methods:reveal', {
    post: async (req, res) => {
      res.json(await vault.paymentMethods.reveal(callerOf(req), tokenOf(req)));
    },
  }, { body: 'none' });
  // A token without the route's scope never reaches the decision point; its refusal is audited here.
  router.use(['/v1/subjects/:id/payment-methods', '/v1/payment-methods'], auditRefusals(audit.writer, 'payment_methods.access'));
  return router;
}

const subjectIdOf = (req: Request) => String(req.params.id);
const tokenOf = (req: Request) => String(req.params.token);
