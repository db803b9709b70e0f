import type { Database } from './database';

export class RevokedTokenStore {
  constructor(private readonly db: Database) {}

  /** Records a revocation; revoking twice is not an error (RFC 7009 §2.2). */
  async revoke(jti: string, clientId: string, expiresAt: Date): Promise<void> {
    await this.db('revoked_tokens').insert({ jti, client_id: clientId, expires_at: expiresAt }).onConflict('jti').ignore();
  }

  /** Forgets revocations of tokens that have expired anyway. */
  async purgeExpired(before: Date): Promise<number> {
    return this.db('revoked_tokens').where('expires_at', '<', before).delete();
  }
}
