import type { Router } from 'express';
import type { AuditSink } from '../../audit/writer';
import { z } from 'zod';
import { MAX_BATCH } from '../../vault/emails';
import { parseInput } from '../../vault/input/parse-input';
import { hasForbiddenCharacters } from '../../vault/input/text-rules';
import type { VaultDomain } from '../../vault/vault';
import type { SecuredRoutes } from '../secured-routes';
import { callerOf } from './subjects';
import { caseSensitiveRouter } from '../route-table';
import { auditRefusals } from './audit-refusals';

// Subject ids are 26 characters; 32 leaves room and lets 1,000 of them fit the default body limit (64 KiB).
const MAX_ID_LENGTH = 32;

const BatchBody = z.strictObject(
  {
    subject_ids: z
      .array(
        // An id that carries control characters is no id; echoing it back would carry them into the mailer's logs.
        z.string({ error: 'each subject id must be a string' }).max(MAX_ID_LENGTH, 'not a subject id').refine((id) => !hasForbiddenCharacters(id), 'a subject id has no control characters'),
        { error: 'subject_ids must be an array' },
      )
      .min(1, 'subject_ids must name at least one subject')
      .max(MAX_BATCH, `subject_ids may name at most ${MAX_BATCH} subjects`)
      // Each repeat named by its index, so a mailer finds it in a list of a thousand.
      .superRefine((ids, ctx) => {
        const first = new Map<string, number>();
        ids.forEach((id, index) => {
          const earlier = first.get(id);
          if (earlier === undefined) first.set(id, index);
          else ctx.addIssue({ code: 'custom', path: [index], message: `repeats the id at /subject_ids/${earlier}` });
        });
      }),
  },
  { error: (i) => (i.code === 'unrecognized_keys' ? 'unknown property' : 'the request must be a JSON object') },
);

/** Email resolution for the mailer: one subject, or a batch answered item by item. */
export function emailRoutes(routes: SecuredRoutes, vault: VaultDomain, audit: AuditSink): Router {
  const router = caseSensitiveRouter();
  routes.add(router, '/v1/subjects/:id/email', 'emails:resolve', {
    get: async (req, res) => {
      res.json(await vault.emails.resolveOne(callerOf(req), String(req.params.id)));
    },
  });
  routes.add(router, '/v1/emails/resolve', 'emails:resolve', {
    post: async (req, res) => {
      const body = parseInput(BatchBody, req.body, 'batch');
      res.json({ results: await vault.emails.resolveBatch(callerOf(req), body.subject_ids) });
    },
  });
  router.use(['/v1/subjects/:id/email', '/v1/emails/resolve'], auditRefusals(audit, 'emails.access'));
  return router;
}
