import type { Request, Router } from 'express';
import { z } from 'zod';
import type { Audit } from '../../audit/audit';
import type { ApprovalActor } from '../../policy/approvals';
import type { Policy } from '../../policy/policy';
import { accessContextOf } from '../access-context';
import { principalOf } from '../middleware/authenticate';
import { textHoldsCardNumber } from '../../vault/input/card-numbers';
import { hasForbiddenCharacters } from '../../vault/input/text-rules';
import { parseBody } from '../parse-body';
import { rfc3339Time } from './admin-audit';
import type { SecuredRoutes } from '../secured-routes';
import { auditRefusals } from './audit-refusals';
import { caseSensitiveRouter } from '../route-table';

const SCOPE = 'admin:policy';

// Line breaks and tabs are a blank to the reader: a card split over lines is still one.
const asOneLine = (value: string) => value.replace(/[\r\n\t]/g, ' ');

const NewApproval = z.strictObject({
  subject_id: z.string().max(128),
  client_id: z.string().max(64),
  // Shown to the second approver: nothing that makes it read differently from what it says (line
  // breaks are fine). Kept in clear, beside the trail, past the subject's erasure: it names the
  // case, and a card number written into it is refused as in any text the vault keeps.
  // The length first, and alone: a longer text is not looked through.
  justification: z
    .string()
    .max(4000, { abort: true })
    .refine((value) => !hasForbiddenCharacters(asOneLine(value)), 'justification must not contain control or invisible formatting characters')
    .refine((value) => !textHoldsCardNumber(asOneLine(value)), 'justification must not hold a card number (name the case, not the card)'),
  expires_at: rfc3339Time,
});

/** /v1/admin/approvals: break-glass approvals for `legal_disclosure`, created by one admin client, approved by another. */
export function adminApprovalRoutes(secured: SecuredRoutes, policy: Policy, audit: Audit): Router {
  const router = caseSensitiveRouter();
  const { approvals } = policy;
  secured.add(router, '/v1/admin/approvals', SCOPE, {
    get: async (_req, res) => {
      res.json({ approvals: await approvals.list() });
    },
    post: async (req, res) => {
      const body = parseBody(NewApproval, req.body);
      const created = await approvals.create(
        { subjectId: body.subject_id, clientId: body.client_id, justification: body.justification, expiresAt: body.expires_at },
        actorOf(req),
        accessContextOf(req),
      );
      res.status(201).location(`/v1/admin/approvals/${created.approval_id}`).json(created);
    },
  });
  secured.add(router, '/v1/admin/approvals/:id', SCOPE, {
    get: async (req, res) => {
      res.json(await approvals.get(String(req.params.id)));
    },
  });
  secured.add(router, '/v1/admin/approvals/:id/approve', SCOPE, {
    post: async (req, res) => {
      res.json(await approvals.approve(String(req.params.id), actorOf(req), accessContextOf(req)));
    },
  }, { body: 'none' });
  router.use('/v1/admin/approvals', auditRefusals(audit.writer, 'approval.access'));
  return router;
}

const actorOf = (req: Request): ApprovalActor => {
  const principal = principalOf(req);
  return { clientId: principal.clientId, scopes: principal.scopes };
};
