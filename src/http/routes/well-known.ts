import type { Router } from 'express';
import type { Identity } from '../../identity/identity';
import { caseSensitiveRouter, type RouteTable } from '../route-table';

/** The published signing keys (RFC 7517) and the authorization server metadata (RFC 8414). */
export function wellKnownRoutes(routes: RouteTable, identity: Identity): Router {
  const router = caseSensitiveRouter();
  routes.add(router, '/.well-known/jwks.json', {
    get: async (_req, res) => {
      res.type('application/jwk-set+json').send(JSON.stringify(await identity.signingKeys.publishedJwks()));
    },
  });
  routes.add(router, '/.well-known/oauth-authorization-server', {
    get: (_req, res) => {
      res.json(identity.metadata());
    },
  });
  return router;
}
