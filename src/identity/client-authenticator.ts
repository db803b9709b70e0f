import crypto from 'node:crypto';
import argon2 from 'argon2';
import type { ClientStore, StoredClient } from '../store/clients';
import { ARGON2_OPTIONS, type Argon2Gate } from './argon2-gate';
import type { AuthThrottle } from './auth-throttle';
import { secretIdOf } from './client-secret';
import { CLIENT_ID_PATTERN } from './ids';
import { invalidClient } from './oauth-error';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * Authenticates a client by id and secret. Every attempt costs exactly one argon2
 * verification: against the hash the secret names, or against a dummy hash when the client is
 * unknown, disabled, expired or the secret names no hash, so a refusal takes the same time
 * whatever the reason.
 */
export class ClientAuthenticator {
  private dummyHash?: Promise<string>;

  constructor(
    private readonly store: ClientStore,
    private readonly argon2: Argon2Gate,
    private readonly throttle: AuthThrottle,
  ) {}

  async authenticate(credentials: ClientCredentials, address: string): Promise<StoredClient> {
    const { clientId, clientSecret } = credentials;
    const attempt = await this.throttle.admit(clientId, address);
    let client: StoredClient | undefined;
    try {
      client = await this.check(clientId, clientSecret);
    } catch (error) {
      attempt.settled();
      throw error;
    }
    if (!client) {
      await attempt.failed();
      throw invalidClient();
    }
    attempt.settled();
    return client;
  }

  /** The client, as it stands once its secret is verified, if that secret is one it takes now. */
  private async check(clientId: string, clientSecret: string): Promise<StoredClient | undefined> {
    const client = CLIENT_ID_PATTERN.test(clientId) ? await this.store.find(clientId) : undefined;
    const hash = (client && hashNamedBy(client, clientSecret)) ?? (await this.dummy());
    const secretMatches = await this.argon2.verify(hash, clientSecret);
    // The verification may have waited its turn for a while: the client as it stands now must
    // still take this secret (one ended by a rotation meanwhile, a leaked one, does not).
    const now = client && secretMatches ? await this.store.find(clientId) : undefined;
    if (!client || !secretMatches || !now || hashNamedBy(now, clientSecret) !== hash || !isUsable(now)) return undefined;
    return now;
  }

  private dummy(): Promise<string> {
    // A hash of a random value nobody knows, with the same parameters as real ones.
    this.dummyHash ??= argon2.hash(crypto.randomBytes(32), ARGON2_OPTIONS);
    return this.dummyHash;
  }
}

function hashNamedBy(client: StoredClient, presented: string): string | undefined {
  const secretId = secretIdOf(presented);
  if (secretId === undefined) return undefined;
  if (secretId === client.secretId) return client.secretHash;
  const previousValid = client.previousSecretExpiresAt !== null && client.previousSecretExpiresAt.getTime() > Date.now();
  if (previousValid && secretId === client.previousSecretId) return client.previousSecretHash ?? undefined;
  return undefined;
}

/** Enabled and, for a contractor whose contract ends, not yet expired. */
export function isUsable(client: { enabled: boolean; expiresAt: Date | null }, now = Date.now()): boolean {
  return client.enabled && (client.expiresAt === null || client.expiresAt.getTime() > now);
}
