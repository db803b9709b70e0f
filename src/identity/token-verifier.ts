import crypto from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { IdentitySettings } from '../config/config';
import { VaultError } from '../errors/vault-error';
import type { ClientStanding } from '../store/clients';
import {
  ACCEPTED_TOKEN_TYPES,
  ALLOWED_HEADER_PARAMETERS,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_LIFETIME_SECONDS,
  REQUIRED_CLAIMS,
  type Principal,
} from './access-token';
import { CLIENT_ID_PATTERN, JTI_PATTERN } from './ids';
import { isPurpose } from './purposes';
import { isDataScope, isScope, splitScopeList } from './scopes';
import { SIGNING_ALGORITHMS, type SigningKeyRing } from './signing-keys';
import { issuerOf } from './issuer';
import type { StandingSource } from './standing-cache';

/** A bearer token the vault does not accept; the HTTP layer answers 401 `invalid_token`. */
export class InvalidTokenError extends VaultError {
  constructor(description: string) {
    super('invalid_token', 401, description);
  }
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verifies access tokens by allow-list (RFC 8725, RFC 9068 §4). The signature and claims of a
 * token are checked once and cached until it expires; whether it is revoked and whether its
 * client is still enabled and unexpired comes from `standing` on every request: the database,
 * or the standing cache that PostgreSQL's change notifications keep true (standing-cache.ts).
 */
export class AccessTokenVerifier {
  private readonly verified: LRUCache<string, Principal>;

  constructor(
    private readonly keys: SigningKeyRing,
    private readonly standings: StandingSource,
    private readonly settings: IdentitySettings,
  ) {
    this.verified = new LRUCache({ max: settings.tokenCacheEntries });
  }

  async verify(token: string): Promise<Principal> {
    const cacheKey = crypto.createHash('sha256').update(token).digest('base64url');
    let principal = this.verified.get(cacheKey);
    if (!principal || principal.expiresAt.getTime() <= Date.now() - this.settings.clockSkewSeconds * 1000) {
      principal = await this.verifySignedToken(token);
      const ttl = principal.expiresAt.getTime() + this.settings.clockSkewSeconds * 1000 - Date.now();
      if (ttl > 0) this.verified.set(cacheKey, principal, { ttl });
    }
    const standing = await this.assertStanding(principal);
    // Object.assign, not a spread with a member after it: that takes a slow path in this V8 on every request.
    return Object.assign({}, principal, { currentGrants: { scopes: standing.scopes, purposes: standing.purposes, enabled: standing.enabled, expiresAt: standing.expiresAt } });
  }

  /** This instance changed the client's standing: no answer cached before it is served again. */
  standingChanged(clientId: string): void {
    this.standings.changed?.(clientId);
  }

  /** Signature, header and claims only: no database question (revocation uses this too). */
  async verifySignedToken(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('The access token is too long');
    if (!JWS_COMPACT.test(token)) throw new InvalidTokenError('The access token is not a signed JWT');
    const header = decodeHeader(token);
    const key = await this.keys.verificationKey(header.kid);
    if (!key) throw new InvalidTokenError('The access token is not signed by a key of this vault');
    if (key.algorithm !== header.alg) throw new InvalidTokenError('The access token algorithm does not match its key');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.algorithm],
        issuer: issuerOf(this.settings),
        audience: this.settings.audience,
        typ: 'at+jwt',
        requiredClaims: [...REQUIRED_CLAIMS],
        clockTolerance: this.settings.clockSkewSeconds,
        maxTokenAge: MAX_TOKEN_LIFETIME_SECONDS,
      }));
    } catch (error) {
      // Only a token whose signature held is told it expired (jose checks claims after the
      // signature): the caller should fetch a new one, not look for a bug.
      if ((error as { code?: unknown } | null)?.code === 'ERR_JWT_EXPIRED') throw new InvalidTokenError('The access token has expired');
      // Every other failure of the JWT library, whatever its class (TypeError included), is a 401.
      throw new InvalidTokenError('The access token is invalid');
    }
    return principalFrom(payload);
  }

  private async assertStanding(principal: Principal): Promise<ClientStanding> {
    const standing = await this.standings.standing(principal.clientId, principal.jti);
    if (standing?.revoked) throw new InvalidTokenError('The access token has been revoked');
    const lapsed = clientLapsed(standing);
    if (lapsed || !standing) throw new InvalidTokenError(lapsed!);
    return standing;
  }
}

/** Why a token's client no longer stands (gone, disabled or expired), or undefined while it does. */
export function clientLapsed(client: { enabled: boolean; expiresAt: Date | null } | undefined): string | undefined {
  if (!client) return 'The client of this token no longer exists';
  if (!client.enabled) return 'The client of this token is disabled';
  if (client.expiresAt && client.expiresAt.getTime() <= Date.now()) return 'The client of this token has expired';
  return undefined;
}

interface CheckedHeader {
  alg: string;
  kid: string;
}

function decodeHeader(token: string): CheckedHeader {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw new InvalidTokenError('The access token header is not valid');
  }
  if (Object.keys(header).some((name) => !ALLOWED_HEADER_PARAMETERS.has(name))) {
    throw new InvalidTokenError('The access token header carries a parameter the vault does not accept');
  }
  const { alg, typ, kid } = header;
  if (typeof alg !== 'string' || !(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new InvalidTokenError('The access token algorithm is not accepted');
  }
  if (typeof typ !== 'string' || !ACCEPTED_TOKEN_TYPES.includes(typ.toLowerCase())) {
    throw new InvalidTokenError('The token is not an access token (typ)');
  }
  if (typeof kid !== 'string') throw new InvalidTokenError('The access token names no key');
  return { alg, kid };
}

function principalFrom(payload: JWTPayload): Principal {
  const { sub, client_id: clientId, scope, purpose, jti, iat, exp } = payload as Record<string, unknown>;
  const invalid = (claim: string) => new InvalidTokenError(`The access token claim ${claim} is not valid`);
  if (typeof sub !== 'string' || !CLIENT_ID_PATTERN.test(sub)) throw invalid('sub');
  if (clientId !== sub) throw invalid('client_id');
  if (typeof jti !== 'string' || !JTI_PATTERN.test(jti)) throw invalid('jti');
  if (typeof scope !== 'string') throw invalid('scope');
  const scopes = splitScopeList(scope);
  if (!scopes || !scopes.every(isScope)) throw invalid('scope');
  if (purpose !== undefined && (typeof purpose !== 'string' || !isPurpose(purpose))) throw invalid('purpose');
  if (scopes.some(isDataScope) !== (purpose !== undefined)) throw invalid('purpose');
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > MAX_TOKEN_LIFETIME_SECONDS) throw invalid('exp');
  return { clientId: sub, scopes, purpose: purpose as string | undefined, jti, expiresAt: new Date(exp * 1000) };
}
