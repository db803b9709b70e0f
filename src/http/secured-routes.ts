import type { Router } from 'express';
import type { AccessTokenVerifier } from '../identity/token-verifier';
import { authenticate, requireScope } from './middleware/authenticate';
import type { Handlers, Method, RouteTable } from './route-table';

/** One scope for every method of a path, or a scope per method (GET reads, PATCH writes …). */
export type ScopeRule = string | Partial<Record<Method, string>>;

/** How /v1 routes are registered: a route cannot be added without a verified token and a scope. */
export interface SecuredRoutes {
  add(router: Router, path: string, scope: ScopeRule, handlers: Handlers): void;
}

export function securedRoutes(routes: RouteTable, verifier: AccessTokenVerifier): SecuredRoutes {
  const verify = authenticate(verifier);
  return {
    add(router, path, scope, handlers) {
      if (!path.startsWith('/v1/')) throw new Error(`secured routes live under /v1: ${path}`);
      // Guards each method the path serves (HEAD with GET) before its handler; other methods get 405.
      const guard = router.route(path);
      for (const method of Object.keys(handlers) as Method[]) {
        const required = typeof scope === 'string' ? scope : scope[method];
        if (!required) throw new Error(`no scope for ${method.toUpperCase()} ${path}`);
        guard[method](verify, requireScope(required));
      }
      routes.add(router, path, handlers);
    },
  };
}
