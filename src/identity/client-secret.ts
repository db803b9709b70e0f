import crypto from 'node:crypto';

/**
 * A client secret is `<secret id>.<256 random bits>`. The secret id is public and stored in
 * clear; it says which stored hash (current or previous) to verify, so every authentication
 * costs exactly one argon2 verification whether or not the client exists.
 */
export interface GeneratedSecret {
  secretId: string;
  secret: string;
}

const SECRET_PATTERN = /^([0-9a-f]{16})\.[A-Za-z0-9_-]{43}$/;

export function generateSecret(): GeneratedSecret {
  const secretId = crypto.randomBytes(8).toString('hex');
  return { secretId, secret: `${secretId}.${crypto.randomBytes(32).toString('base64url')}` };
}

/** The secret id a presented secret names, or undefined when it is not shaped like a vault secret. */
export function secretIdOf(presented: string): string | undefined {
  return SECRET_PATTERN.exec(presented)?.[1];
}
