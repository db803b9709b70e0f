import './request-context';
import express, { type Express } from 'express';
import type { Audit } from '../audit/audit';
import type { Config } from '../config/config';
import { VaultError } from '../errors/vault-error';
import type { Identity } from '../identity/identity';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { Policy } from '../policy/policy';
import { bodyReader } from './middleware/body';
import { requestHead } from './middleware/framing';
import { assignRequestId } from './middleware/request-id';
import { requestLog } from './middleware/request-log';
import { securityHeaders } from './middleware/security-headers';
import { problemHandler } from './problem';
import { RouteTable } from './route-table';
import { accessLogRoutes } from './routes/access-log';
import { emailRoutes } from './routes/emails';
import { paymentMethodRoutes } from './routes/payment-methods';
import { subjectRoutes } from './routes/subjects';
import type { VaultDomain } from '../vault/vault';
import { adminApprovalRoutes } from './routes/admin-approvals';
import { adminAuditRoutes } from './routes/admin-audit';
import { adminClientRoutes } from './routes/admin-clients';
import { adminKeyRoutes } from './routes/admin-keys';
import type { KeyRotation } from '../vault/rotation/rotation';
import { adminPolicyRoutes } from './routes/admin-policy';
import { oauthRefusalsBeforeTheEndpoint, oauthRoutes } from './routes/oauth';
import { operationsRoutes, type ReadinessCheck } from './routes/operations';
import { wellKnownRoutes } from './routes/well-known';
import { securedRoutes } from './secured-routes';

export interface AppDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  identity: Identity;
  policy: Policy;
  audit: Audit;
  domain: VaultDomain;
  rotation: KeyRotation;
}

export interface VaultApp {
  app: Express;
  routes: RouteTable;
}

export function createApp(deps: AppDependencies): VaultApp {
  const app = express();
  const routes = new RouteTable(bodyReader(deps.config.http.bodyLimitBytes));
  app.disable('x-powered-by');
  // Paths match only as openapi.yaml spells them (route modules use caseSensitiveRouter too): a
  // filter in front of the vault that matches paths exactly sees the routes the vault serves.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('etag', false);
  // Never 304: every answer is no-store, so no client holds a copy a 304 could stand for, and a
  // subject's ETag names its version, not what one purpose sees of it. If-None-Match and
  // If-Modified-Since are ignored (express would otherwise answer 304 to a matching ETag).
  Object.defineProperty(app.request, 'fresh', { get: () => false });
  app.set('query parser', 'simple');
  // Off unless configured: X-Forwarded-For is the client's to write, and would choose whose failures the throttle counts.
  app.set('trust proxy', deps.config.http.trustedProxies.length > 0 ? deps.config.http.trustedProxies : false);

  // Every request, in one step (each layer of Express's chain costs): its id, its log line
  // once answered, no-store (nothing the vault answers may be kept by a cache: not data, not
  // tokens, not errors about them) and helmet's security headers, computed once.
  const logWhenAnswered = requestLog(deps.logger, deps.metrics);
  const setSecurityHeaders = securityHeaders();
  app.use((req, res, next) => {
    assignRequestId(req, res);
    logWhenAnswered(req, res);
    res.setHeader('Cache-Control', 'no-store');
    setSecurityHeaders(res);
    next();
  });
  // The head, before routing; each route reads its body only once it has admitted the request.
  app.use(requestHead(deps.config.http.bodyLimitBytes));

  // Every /v1 route is registered through here, behind token verification and its scope.
  const secured = securedRoutes(routes, deps.identity.verifier);
  // Express tries routers in order, path by path: the busiest routes (the mailer's, the account
  // service's, billing's) come first; probes, discovery and token requests are far rarer.
  app.use(emailRoutes(secured, deps.domain, deps.audit.writer));
  app.use(subjectRoutes(secured, deps.domain, deps.audit.writer));
  app.use(paymentMethodRoutes(secured, deps.domain, deps.audit));
  app.use(accessLogRoutes(secured, deps.audit));
  app.use(operationsRoutes(routes, deps.metrics, deps.readiness));
  app.use(wellKnownRoutes(routes, deps.identity));
  app.use(oauthRoutes(routes, deps.identity));
  app.use(adminClientRoutes(secured, deps.identity, deps.audit.writer));
  app.use(adminPolicyRoutes(secured, deps.policy, deps.audit));
  app.use(adminApprovalRoutes(secured, deps.policy, deps.audit));
  app.use(adminAuditRoutes(secured, deps.audit));
  app.use(adminKeyRoutes(secured, deps.rotation, deps.audit));

  app.use(() => {
    throw new VaultError('not_found', 404, 'No such resource');
  });
  app.use(oauthRefusalsBeforeTheEndpoint(deps.identity));
  app.use(problemHandler(deps.logger));
  return { app, routes };
}

