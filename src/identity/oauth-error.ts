import { VaultError } from '../errors/vault-error';

/** The error codes of RFC 6749 §5.2 and RFC 7009 §2.2.1 that the token endpoints answer with. */
export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
  'temporarily_unavailable',
] as const;

export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

export const isOAuthErrorCode = (code: string): code is OAuthErrorCode => (OAUTH_ERROR_CODES as readonly string[]).includes(code);

/**
 * An error the OAuth endpoints answer as an RFC 6749 §5.2 body: `code` is the `error`, the
 * message is the `error_description` (printable ASCII without quotes or backslashes, and never
 * a secret). Elsewhere it is an ordinary VaultError.
 */
export class OAuthError extends VaultError {
  constructor(code: OAuthErrorCode, status: number, description: string, headers?: Record<string, string>) {
    super(code, status, description, { headers });
  }
}

export const invalidRequest = (description: string) => new OAuthError('invalid_request', 400, description);
export const invalidScope = (description: string) => new OAuthError('invalid_scope', 400, description);

/** One answer for every failed client authentication, so none says which part was wrong. */
export const invalidClient = () =>
  new OAuthError('invalid_client', 401, 'Client authentication failed', { 'WWW-Authenticate': 'Basic realm="pdvault", charset="UTF-8"' });

export const temporarilyUnavailable = (status: 429 | 503, retryAfterSeconds: number, description: string) =>
  new OAuthError('temporarily_unavailable', status, description, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
