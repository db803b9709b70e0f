import type { IdentitySettings } from '../config/config';
import { VaultError } from '../errors/vault-error';
import type { RevokedTokenStore } from '../store/revoked-tokens';
import type { StoredClient } from '../store/clients';
import type { IdentityAuditEvent, IdentityAuditHook } from './audit-hook';
import type { ClientAuthenticator, ClientCredentials } from './client-authenticator';
import { invalidRequest, invalidScope, OAuthError } from './oauth-error';
import type { SigningKeyRing } from './signing-keys';
import { decideGrant } from './token-grant';
import { issueAccessToken, type TokenResponse } from './token-issuer';
import type { AccessTokenVerifier } from './token-verifier';

/** A request to an OAuth endpoint as the HTTP layer parsed it: credentials, parameters. */
export interface OAuthRequest {
  credentials: ClientCredentials;
  /** Form parameters, each present at most once; empty values already dropped (RFC 6749 §3.1). */
  params: Record<string, string>;
}

/** Where a request to an OAuth endpoint came from, known before its body is read. */
export interface OAuthSource {
  address: string;
  /** The vault's id of the HTTP request, which its audit event carries too. */
  requestId: string;
  /** The client id the request names, read leniently and never trusted: a refusal before the credentials are read still says who asked. */
  clientIdSent?: string;
}

/** The two OAuth endpoints, by the event each one's refusal is recorded as. */
export type OAuthEndpoint = 'token' | 'revoke';

/** The token endpoint (RFC 6749 §4.4) and the revocation endpoint (RFC 7009), as steps. */
export class TokenService {
  constructor(
    private readonly authenticator: ClientAuthenticator,
    private readonly keys: SigningKeyRing,
    private readonly verifier: AccessTokenVerifier,
    private readonly revoked: RevokedTokenStore,
    private readonly settings: IdentitySettings,
    private readonly audit: IdentityAuditHook,
    /** Whether the policy in force has a rule for a purpose: a token names only a purpose data can be read for. */
    private readonly purposeInForce: (purpose: string) => Promise<boolean>,
  ) {}

  /**
   * Reads the request (`read` throws on a malformed one) inside the audited step: every refusal,
   * a malformed request included, leaves a `token.issue` event (see refusalsAudited).
   */
  issue(read: () => OAuthRequest, source: OAuthSource): Promise<TokenResponse> {
    const { address, requestId } = source;
    return this.refusalsAudited(
      read,
      source,
      async ({ params }, client) => {
        if (params.grant_type === undefined) throw invalidRequest('The grant_type parameter is required');
        if (params.grant_type !== 'client_credentials') {
          throw new OAuthError('unsupported_grant_type', 400, 'Only the client_credentials grant is supported');
        }
        const grant = decideGrant(client, { scope: params.scope, purpose: params.purpose });
        if (grant.purpose !== undefined && !(await this.purposeInForce(grant.purpose))) throw invalidScope('The policy in force has no rule for this purpose');
        const issued = await issueAccessToken(this.keys, this.settings, client, grant);
        await this.audit.record({ type: 'token.issued', clientId: client.id, jti: issued.jti, scopes: grant.scopes, purpose: grant.purpose, address, requestId });
        return issued.response;
      },
      (seen, reason) => ({ type: 'token.refused', clientId: seen.clientId?.slice(0, 64), reason, address, requestId }),
    );
  }

  /**
   * RFC 7009: a token that is invalid, expired or unknown needs no revocation and is answered
   * like a revoked one (200); a valid token of another client is refused. Refusals are audited
   * as `token.revoke` denied: a client holding another's token is a sign that token was taken.
   */
  revoke(read: () => OAuthRequest, source: OAuthSource): Promise<void> {
    const { address, requestId } = source;
    return this.refusalsAudited(
      read,
      source,
      async (request, client, seen) => {
        const token = request.params.token;
        if (token === undefined) throw invalidRequest('The token parameter is required');
        const principal = await this.verifier.verifySignedToken(token).catch(() => undefined);
        if (!principal) return;
        seen.jti = principal.jti;
        if (principal.clientId !== client.id) {
          throw new OAuthError('unauthorized_client', 400, 'The token was not issued to this client');
        }
        await this.revoked.revoke(principal.jti, principal.clientId, principal.expiresAt);
        this.verifier.standingChanged(principal.clientId);
        // Revocations of tokens past their expiry (and the skew) protect nothing any more.
        await this.revoked.purgeExpired(new Date(Date.now() - this.settings.clockSkewSeconds * 1000));
        await this.audit.record({ type: 'token.revoked', clientId: client.id, jti: principal.jti, address, requestId });
      },
      (seen, reason) => ({ type: 'token.revoke_refused', clientId: seen.clientId?.slice(0, 64), jti: seen.jti, reason, address, requestId }),
    );
  }

  /**
   * A request refused before its endpoint ran (a body that is no form, bad percent-encoding, an
   * expectation the vault does not meet): recorded as the endpoint's own refusals are, naming the
   * client id it sent, if any.
   */
  async recordRefusedUnread(endpoint: OAuthEndpoint, reason: string, source: OAuthSource): Promise<void> {
    const { address, requestId, clientIdSent } = source;
    const clientId = clientIdSent?.slice(0, 64);
    await this.audit.record(endpoint === 'token' ? { type: 'token.refused', clientId, reason, address, requestId } : { type: 'token.revoke_refused', clientId, reason, address, requestId });
  }

  /**
   * Reads the request and authenticates its client, then runs the endpoint's step; a refusal
   * (a 4xx) at any point, a malformed request included, is recorded with what was learnt by
   * then (`seen`: the client id sent, the token's id) before it is answered.
   */
  private async refusalsAudited<T>(
    read: () => OAuthRequest,
    source: OAuthSource,
    step: (request: OAuthRequest, client: StoredClient, seen: Seen) => Promise<T>,
    refusal: (seen: Seen, reason: string) => IdentityAuditEvent,
  ): Promise<T> {
    const seen: Seen = { clientId: source.clientIdSent };
    try {
      const request = read();
      seen.clientId = request.credentials.clientId;
      const client = await this.authenticator.authenticate(request.credentials, source.address);
      return await step(request, client, seen);
    } catch (error) {
      if (error instanceof VaultError && error.status < 500) await this.audit.record(refusal(seen, error.code));
      throw error;
    }
  }
}

/** What an endpoint step has learnt of a request when it is refused. */
interface Seen {
  clientId?: string;
  jti?: string;
}
