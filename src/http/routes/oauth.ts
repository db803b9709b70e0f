import type { ErrorRequestHandler, Router } from 'express';
import { VaultError } from '../../errors/vault-error';
import type { Identity } from '../../identity/identity';
import { isOAuthErrorCode } from '../../identity/oauth-error';
import { oauthSource, readOAuthRequest } from '../oauth-request';
import { caseSensitiveRouter, type RouteTable } from '../route-table';

/** POST /oauth/token (RFC 6749 §4.4) and POST /oauth/revoke (RFC 7009); errors as RFC 6749 §5.2. */
export function oauthRoutes(routes: RouteTable, identity: Identity): Router {
  const router = caseSensitiveRouter();
  routes.add(router, '/oauth/token', {
    post: async (req, res) => {
      const response = await identity.tokens.issue(() => readOAuthRequest(req), oauthSource(req));
      res.setHeader('Pragma', 'no-cache');
      res.json(response);
    },
  }, { body: 'form' });
  routes.add(router, '/oauth/revoke', {
    post: async (req, res) => {
      await identity.tokens.revoke(() => readOAuthRequest(req), oauthSource(req));
      res.status(200).end();
    },
  }, { body: 'form' });
  router.use(oauthErrors);
  return router;
}

/** An OAuth error becomes `{"error", "error_description"}`; anything else goes on to problem+json. */
const oauthErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (!(error instanceof VaultError) || !isOAuthErrorCode(error.code)) return next(error);
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  res.setHeader('Pragma', 'no-cache');
  res.status(error.status).json({ error: error.code, error_description: error.message });
};
