import type { Router } from 'express';
import { z } from 'zod';
import type { Audit } from '../../audit/audit';
import { VaultError } from '../../errors/vault-error';
import type { SecuredRoutes } from '../secured-routes';
import { Paging, parseQuery, readerOf } from './admin-audit';
import { auditRefusals } from './audit-refusals';
import { caseSensitiveRouter } from '../route-table';

const SUBJECT_ID = /^sub_[A-Za-z0-9_-]{1,64}$/;
const AccessLogQuery = z.strictObject(Paging);

/** GET /v1/subjects/{id}/access-log: who accessed this subject's data, for which purpose, when (scope audit:read). */
export function accessLogRoutes(secured: SecuredRoutes, audit: Audit): Router {
  const router = caseSensitiveRouter();
  secured.add(router, '/v1/subjects/:id/access-log', 'audit:read', {
    get: async (req, res) => {
      const subjectId = String(req.params.id);
      if (!SUBJECT_ID.test(subjectId)) throw new VaultError('invalid_subject_id', 400, 'Not a subject id');
      const query = parseQuery(AccessLogQuery, req.query);
      const page = await audit.trail.accessLog(subjectId, query, readerOf(req));
      res.json({ subject_id: subjectId, entries: page.items, next_cursor: page.nextCursor });
    },
  }, { query: 'parsed by the handler' });
  router.use('/v1/subjects/:id/access-log', auditRefusals(audit.writer, 'audit.access_log'));
  return router;
}
