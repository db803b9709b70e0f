import '../principal-context';
import type { Request, RequestHandler } from 'express';
import { BEARER_CHALLENGE, insufficientScopeChallenge, invalidTokenChallenge, VaultError } from '../../errors/vault-error';
import type { Principal } from '../../identity/access-token';
import { InvalidTokenError, type AccessTokenVerifier } from '../../identity/token-verifier';

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/**
 * RFC 6750 bearer authentication for every /v1 request. No credentials: 401 with a bare
 * challenge; a token the vault does not accept: 401 `invalid_token`.
 */
export function authenticate(verifier: AccessTokenVerifier): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization');
    if (header === undefined || !/^bearer(\s|$)/i.test(header)) {
      throw new VaultError('unauthenticated', 401, 'An access token is required', {
        detail: 'Send Authorization: Bearer <access token>; POST /oauth/token issues one',
        headers: { 'WWW-Authenticate': BEARER_CHALLENGE },
      });
    }
    const token = BEARER.exec(header)?.[1];
    try {
      if (token === undefined) throw new InvalidTokenError('The Authorization header is not a bearer token');
      req.principal = await verifier.verify(token);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      throw new VaultError('invalid_token', 401, error.message, { headers: invalidTokenChallenge(error.message) });
    }
    next();
  };
}

/** 403 `insufficient_scope` unless the token holds `scope`. */
export function requireScope(scope: string): RequestHandler {
  return (req, _res, next) => {
    // The token carries the scope and its client still holds it: taking a scope away takes effect on tokens already issued.
    const principal = principalOf(req);
    if (!principal.scopes.includes(scope) || !principal.currentGrants?.scopes.includes(scope)) {
      throw new VaultError('insufficient_scope', 403, 'The access token lacks the scope this resource requires', {
        detail: `Requires scope ${scope}`,
        headers: insufficientScopeChallenge(scope),
      });
    }
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Error('route reached without authentication');
  return req.principal;
}
