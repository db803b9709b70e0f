import type { ErrorRequestHandler, Request, Router } from 'express';
import { VaultError } from '../../errors/vault-error';
import type { Identity } from '../../identity/identity';
import { isOAuthErrorCode } from '../../identity/oauth-error';
import type { OAuthEndpoint } from '../../identity/token-service';
import { oauthSource, readOAuthRequest } from '../oauth-request';
import { toVaultError } from '../problem';
import { caseSensitiveRouter, type RouteTable } from '../route-table';

// Requests that reached their endpoint, whose refusals the endpoint records itself.
const endpointRan = new WeakSet<Request>();
const ENDPOINTS: Record<string, OAuthEndpoint> = { '/oauth/token': 'token', '/oauth/revoke': 'revoke' };

/** POST /oauth/token (RFC 6749 §4.4) and POST /oauth/revoke (RFC 7009); errors as RFC 6749 §5.2. */
export function oauthRoutes(routes: RouteTable, identity: Identity): Router {
  const router = caseSensitiveRouter();
  routes.add(router, '/oauth/token', {
    post: async (req, res) => {
      endpointRan.add(req);
      const response = await identity.tokens.issue(() => readOAuthRequest(req), oauthSource(req));
      res.setHeader('Pragma', 'no-cache');
      res.json(response);
    },
  }, { body: 'form' });
  routes.add(router, '/oauth/revoke', {
    post: async (req, res) => {
      endpointRan.add(req);
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

/**
 * A POST to an OAuth endpoint refused before the endpoint ran, by the checks of its head or by
 * its body reader (a JSON body, bad percent-encoding, an expectation other than 100-continue), is
 * recorded as the endpoint records its own refusals: every refusal there is audited. On the app,
 * just before the problem handler, since the head's refusals never reach the endpoints' router.
 */
export function oauthRefusalsBeforeTheEndpoint(identity: Identity): ErrorRequestHandler {
  return async (error, req, _res, next) => {
    const endpoint = req.method === 'POST' && Object.hasOwn(ENDPOINTS, req.path) ? ENDPOINTS[req.path] : undefined;
    if (endpoint === undefined || endpointRan.has(req)) return next(error);
    const problem = toVaultError(error);
    if (!isCallersRefusal(problem.status)) return next(error);
    try {
      await identity.tokens.recordRefusedUnread(endpoint, problem.code, oauthSource(req));
    } catch (auditError) {
      // Fails closed, as every refusal the trail could not take: the answer is the trail's 503.
      return next(auditError);
    }
    next(error);
  };
}

// A 4xx, and the two 5xx that answer what the caller sent: a transfer coding or an HTTP version the vault does not implement.
const isCallersRefusal = (status: number) => status < 500 || status === 501 || status === 505;
