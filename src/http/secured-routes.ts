import type { Request, RequestHandler, Router } from 'express';
import { VaultError } from '../errors/vault-error';
import type { AccessTokenVerifier } from '../identity/token-verifier';
import { authenticate, requireScope } from './middleware/authenticate';
import type { Handlers, Method, RouteTable } from './route-table';

/** One scope for every method of a path, or a scope per method (GET reads, PATCH writes …). */
export type ScopeRule = string | Partial<Record<Method, string>>;

export interface RouteOptions {
  /** The handlers read and validate the query string themselves (openapi.yaml declares its parameters). */
  query?: 'parsed by the handler';
  /** A POST that takes no body (openapi.yaml declares none): one sent is refused, unread, rather than ignored. */
  body?: 'none';
}

/**
 * How /v1 routes are registered: a route cannot be added without a verified token and a scope,
 * and a route that declares no query parameters refuses a query string rather than ignore it.
 */
export interface SecuredRoutes {
  add(router: Router, path: string, scope: ScopeRule, handlers: Handlers, options?: RouteOptions): void;
}

// Ignoring it would surprise: `GET /v1/subjects/{id}?fields=email` would disclose (and audit) every field.
function refuseQuery(req: Request): void {
  if (Object.keys(req.query as object).length > 0) {
    throw new VaultError('invalid_query', 400, 'This resource takes no query parameters', { detail: 'Send the request without a query string' });
  }
}

/** The scope check, and then the query check where the route takes none: one step of Express's chain, not two. */
function admission(scope: string, options: RouteOptions): RequestHandler {
  const scoped = requireScope(scope);
  if (options.query) return scoped;
  return (req, res, next) =>
    scoped(req, res, () => {
      refuseQuery(req);
      next();
    });
}

export function securedRoutes(routes: RouteTable, verifier: AccessTokenVerifier): SecuredRoutes {
  const verify = authenticate(verifier);
  return {
    add(router, path, scope, handlers, options = {}) {
      if (!path.startsWith('/v1/')) throw new Error(`secured routes live under /v1: ${path}`);
      // Guards each method the path serves before its handler; other methods get 405. Express
      // would guard a HEAD as a GET: a caller with no token would learn 401 rather than that HEAD
      // is refused, and one without the scope would be audited as refused. HEAD skips the guard.
      const guard = router.route(path);
      guard.head((_req, _res, next) => next('route'));
      for (const method of Object.keys(handlers) as Method[]) {
        const required = typeof scope === 'string' ? scope : scope[method];
        if (!required) throw new Error(`no scope for ${method.toUpperCase()} ${path}`);
        guard[method](verify, admission(required, options));
      }
      // The body is read after these checks: a caller refused by them is never asked for it.
      routes.add(router, path, handlers, { body: options.body });
    },
  };
}
