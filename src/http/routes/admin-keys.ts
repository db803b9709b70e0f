import type { Request, Router } from 'express';
import { z } from 'zod';
import type { Audit } from '../../audit/audit';
import { VaultError } from '../../errors/vault-error';
import type { KeyRotation } from '../../vault/rotation/rotation';
import type { RotationActor } from '../../vault/rotation/rotation-jobs';
import { accessContextOf } from '../access-context';
import { principalOf } from '../middleware/authenticate';
import { parseBody } from '../parse-body';
import type { SecuredRoutes } from '../secured-routes';
import { auditRefusals } from './audit-refusals';
import { caseSensitiveRouter } from '../route-table';

const SCOPE = 'admin:keys';

const NewRotation = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('kek') }),
    z.strictObject({ kind: z.literal('signing') }),
    z.strictObject({ kind: z.literal('blind_index') }),
    z.strictObject({ kind: z.literal('kms_key'), kms_key_id: z.string({ error: 'kms_key_id must be a string' }).min(1, 'kms_key_id names a KMS key; leave it out for a new key of the provider\'s own').max(2048, 'kms_key_id is at most 2048 characters').optional() }),
    z.strictObject({
      kind: z.literal('subject'),
      subject_id: z.string({ error: 'subject_id (a sub_… id) is required for kind subject' }).regex(/^sub_[A-Za-z0-9_-]{1,64}$/, 'Not a subject id'),
    }),
  ],
  { error: 'kind must be one of kek, kms_key, signing, blind_index, subject' },
);

/** /v1/admin/keys and /v1/admin/jobs: the key inventory, starting rotations, following them, destroying a retired KEK generation. */
export function adminKeyRoutes(secured: SecuredRoutes, rotation: KeyRotation, audit: Audit): Router {
  const router = caseSensitiveRouter();
  secured.add(router, '/v1/admin/keys', SCOPE, {
    get: async (_req, res) => {
      res.json(await rotation.inventory.read());
    },
  });
  secured.add(router, '/v1/admin/keys/rotations', SCOPE, {
    post: async (req, res) => {
      const body = parseBody(NewRotation, req.body);
      const job = await rotation.start(
        { kind: body.kind, subjectId: 'subject_id' in body ? body.subject_id : undefined, kmsKeyId: 'kms_key_id' in body ? body.kms_key_id : undefined },
        actorOf(req),
      );
      res.status(202).location(`/v1/admin/jobs/${job.job_id}`).json(job);
    },
  });
  secured.add(router, '/v1/admin/jobs/:id', SCOPE, {
    get: async (req, res) => {
      res.json(await rotation.jobs.get(String(req.params.id)));
    },
  });
  secured.add(router, '/v1/admin/keys/kek-generations/:id/destruction', SCOPE, {
    post: async (req, res) => {
      res.status(202).json(await rotation.destruction.request(generationIdOf(req), actorOf(req)));
    },
  }, { body: 'none' });
  secured.add(router, '/v1/admin/keys/kek-generations/:id/destruction/approve', SCOPE, {
    post: async (req, res) => {
      res.json(await rotation.destruction.approve(generationIdOf(req), actorOf(req)));
    },
  }, { body: 'none' });
  router.use(['/v1/admin/keys', '/v1/admin/jobs'], auditRefusals(audit.writer, 'keys.access'));
  return router;
}

function generationIdOf(req: Request): number {
  const id = Number(req.params.id);
  if (!/^[1-9]\d{0,9}$/.test(String(req.params.id)) || id < 1 || id > 0x7fff_ffff) throw new VaultError('kek_generation_not_found', 404, 'No such KEK generation');
  return id;
}

const actorOf = (req: Request): RotationActor => {
  const principal = principalOf(req);
  return { clientId: principal.clientId, scopes: principal.scopes, ...accessContextOf(req) };
};
