import { type Request, type Response, type Router } from 'express';
import type { Audit } from '../../audit/audit';
import type { PolicyVersion } from '../../policy/policy-catalogue';
import type { Policy } from '../../policy/policy';
import { accessContextOf } from '../access-context';
import { principalOf } from '../middleware/authenticate';
import type { SecuredRoutes } from '../secured-routes';
import { auditRefusals } from './audit-refusals';
import { caseSensitiveRouter } from '../route-table';
import { optionalIfMatch } from '../../vault/if-match';

const SCOPE = 'admin:policy';

/** /v1/admin/policy: read and replace the purpose catalogue; every version stays readable. */
export function adminPolicyRoutes(secured: SecuredRoutes, policy: Policy, audit: Audit): Router {
  const router = caseSensitiveRouter();
  const { catalogue } = policy;
  secured.add(router, '/v1/admin/policy', SCOPE, {
    get: async (_req, res) => {
      send(res, await catalogue.current());
    },
    put: async (req, res) => {
      const principal = principalOf(req);
      const replaced = await catalogue.replace(req.body, { clientId: principal.clientId, scopes: principal.scopes }, accessContextOf(req), expectedVersions(req));
      send(res, replaced);
    },
  });
  secured.add(router, '/v1/admin/policy/versions', SCOPE, {
    get: async (_req, res) => {
      const versions = await catalogue.versions();
      res.json({ versions: versions.map((v) => ({ version: v.version, created_by: v.createdBy, created_at: v.createdAt.toISOString() })) });
    },
  });
  secured.add(router, '/v1/admin/policy/versions/:version', SCOPE, {
    get: async (req, res) => {
      const version = /^[1-9]\d{0,8}$/.test(String(req.params.version)) ? Number(req.params.version) : 0;
      send(res, await catalogue.version(version));
    },
  });
  router.use('/v1/admin/policy', auditRefusals(audit.writer, 'policy.access'));
  return router;
}

function send(res: Response, policy: PolicyVersion): void {
  res.setHeader('ETag', `"${policy.version}"`);
  res.json({ version: policy.version, created_by: policy.createdBy, created_at: policy.createdAt.toISOString(), policy: policy.document });
}

/**
 * `If-Match: "7"` replaces only version 7 (a list, any version it names); absent (or `*`), the
 * catalogue refuses the replacement (428). If-Match compares strongly (RFC 9110 §13.1.1): a weak
 * tag names no version, so one alone makes the replacement refused as stale (412), as the
 * subject's PATCH does.
 */
function expectedVersions(req: Request): number[] | undefined {
  const condition = optionalIfMatch(req.get('if-match'));
  if (!condition || 'anyVersion' in condition) return undefined;
  return condition.tags.flatMap((tag) => {
    const version = /^"([1-9]\d{0,8})"$/.exec(tag)?.[1];
    return version ? [Number(version)] : [];
  });
}
