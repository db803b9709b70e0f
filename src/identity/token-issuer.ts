import { SignJWT } from 'jose';
import type { IdentitySettings } from '../config/config';
import type { StoredClient } from '../store/clients';
import { ACCESS_TOKEN_TYPE } from './access-token';
import { newJti } from './ids';
import { issuerOf } from './issuer';
import type { SigningKeyRing } from './signing-keys';
import type { Grant } from './token-grant';
import { invalidClient } from './oauth-error';

/** RFC 6749 §5.1: the success body of the token endpoint. No refresh token, ever. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

export interface IssuedToken {
  response: TokenResponse;
  jti: string;
}

/** Signs an RFC 9068 access token; a contractor's token never outlives its contract, and lives at least a second. */
export async function issueAccessToken(
  keys: SigningKeyRing,
  settings: IdentitySettings,
  client: StoredClient,
  grant: Grant,
): Promise<IssuedToken> {
  const key = await keys.activeKey();
  const now = Math.floor(Date.now() / 1000);
  const contractEnd = client.expiresAt ? Math.floor(client.expiresAt.getTime() / 1000) : Infinity;
  const exp = Math.min(now + settings.tokenTtlSeconds, contractEnd);
  // A contract that ends within this second leaves no whole second of lifetime: the client is as good as expired.
  if (exp <= now) throw invalidClient();
  const jti = newJti();
  const scope = grant.scopes.join(' ');
  const claims: Record<string, string> = { client_id: client.id, scope };
  if (grant.purpose !== undefined) claims.purpose = grant.purpose;
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: key.algorithm, typ: ACCESS_TOKEN_TYPE, kid: key.kid })
    .setIssuer(issuerOf(settings))
    .setAudience(settings.audience)
    .setSubject(client.id)
    .setJti(jti)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(key.privateKey);
  return { jti, response: { access_token: accessToken, token_type: 'Bearer', expires_in: exp - now, scope } };
}
