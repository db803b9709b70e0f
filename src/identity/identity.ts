import type { IdentitySettings } from '../config/config';
import type { Metrics } from '../observability/metrics';
import { ChangeListener } from '../store/change-listener';
import { ClientStore } from '../store/clients';
import type { Database } from '../store/database';
import { RevokedTokenStore } from '../store/revoked-tokens';
import { SigningKeyStore } from '../store/signing-keys';
import { Argon2Gate } from './argon2-gate';
import { NO_IDENTITY_AUDIT, type IdentityAuditHook } from './audit-hook';
import { AuthThrottle } from './auth-throttle';
import { ClientAuthenticator } from './client-authenticator';
import { ClientRegistry } from './client-registry';
import { issuerOf } from './issuer';
import { SCOPES } from './scopes';
import type { SecretSealer } from './secret-sealer';
import { SigningKeyRing } from './signing-keys';
import { StandingCache } from './standing-cache';
import { TokenService } from './token-service';
import { AccessTokenVerifier } from './token-verifier';

/** Everything the rest of the vault uses of identity. */
export interface Identity {
  clients: ClientRegistry;
  tokens: TokenService;
  verifier: AccessTokenVerifier;
  signingKeys: SigningKeyRing;
  settings: IdentitySettings;
  /** Follows changes to clients and revocations (PostgreSQL notifications) so token standing can be cached; idempotent. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** RFC 8414 metadata; `issuer` is known once the vault listens. */
  metadata(): AuthorizationServerMetadata;
}

export interface IdentityDependencies {
  db: Database;
  settings: IdentitySettings;
  sealer: SecretSealer;
  metrics?: Metrics;
  audit?: IdentityAuditHook;
  /** Whether the policy in force has a rule for a purpose; tokens are issued only for such purposes. */
  purposeInForce(purpose: string): Promise<boolean>;
  /** Told when the change feed fails (it reconnects by itself). */
  onFeedError?(error: unknown): void;
}

/** The trigger of migration 050 announces client changes and revocations here. */
export const CLIENT_STANDING_CHANNEL = 'pdvault_client_standing';

export function createIdentity(deps: IdentityDependencies): Identity {
  const { db, settings } = deps;
  const audit = deps.audit ?? NO_IDENTITY_AUDIT;
  const clientStore = new ClientStore(db);
  const argon2 = new Argon2Gate(settings.argon2Concurrency, settings.argon2QueueLimit, deps.metrics);
  const signingKeys = new SigningKeyRing(new SigningKeyStore(db), deps.sealer, settings);
  const throttle = new AuthThrottle(db, settings);
  const authenticator = new ClientAuthenticator(clientStore, argon2, throttle);
  const standings = new StandingCache(clientStore, { maxAgeMs: settings.standingCacheMs, maxEntries: settings.tokenCacheEntries });
  const feed = new ChangeListener(db, CLIENT_STANDING_CHANNEL, {
    changed: (clientId) => standings.changed(clientId),
    listening: (up) => standings.listening(up),
  }, { onError: deps.onFeedError });
  deps.metrics?.gauge('pdvault_client_standing_feed_up', '1 while client changes are followed (token standing may be cached); 0 while every request asks the database.', () => (standings.isTrusted ? 1 : 0));
  const verifier = new AccessTokenVerifier(signingKeys, standings, settings);
  return {
    clients: new ClientRegistry(clientStore, argon2, settings, audit, (clientId) => standings.changed(clientId)),
    tokens: new TokenService(authenticator, signingKeys, verifier, new RevokedTokenStore(db), settings, audit, (purpose) => deps.purposeInForce(purpose)),
    verifier,
    signingKeys,
    settings,
    start: () => {
      throttle.start();
      return settings.standingCacheMs > 0 ? feed.start() : Promise.resolve();
    },
    stop: () => {
      throttle.stop();
      return feed.stop();
    },
    metadata: () => authorizationServerMetadata(settings),
  };
}

/** The client registry alone, for the command line: no signing keys, no HTTP. */
export function createClientRegistry(db: Database, settings: IdentitySettings, audit: IdentityAuditHook = NO_IDENTITY_AUDIT): ClientRegistry {
  return new ClientRegistry(new ClientStore(db), new Argon2Gate(settings.argon2Concurrency, settings.argon2QueueLimit), settings, audit);
}

export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  revocation_endpoint: string;
  grant_types_supported: string[];
  response_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  scopes_supported: string[];
}

function authorizationServerMetadata(settings: IdentitySettings): AuthorizationServerMetadata {
  const issuer = issuerOf(settings);
  const base = issuer.replace(/\/$/, '');
  const authMethods = ['client_secret_basic', 'client_secret_post'];
  return {
    issuer,
    token_endpoint: `${base}/oauth/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    revocation_endpoint: `${base}/oauth/revoke`,
    grant_types_supported: ['client_credentials'],
    // RFC 8414 requires the member; the vault has no authorization endpoint, so no response types.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    scopes_supported: [...SCOPES],
  };
}
