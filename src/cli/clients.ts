import type { Config } from '../config/config';
import type { ClientDescription, IssuedCredentials } from '../identity/client-registry';
import { parseExpiry } from '../identity/expiry';
import { createClientRegistry } from '../identity/identity';
import { withCommandDatabase } from './cli-database';

export interface CreateClientOptions {
  name: string;
  scopes: string;
  purposes?: string;
  kind?: string;
  expires?: string;
}

const CLI = { via: 'cli' } as const;
const words = (list: string | undefined) => (list ?? '').split(/[\s,]+/).filter(Boolean);

/** `pdvault clients create`: the secret is in the answer and nowhere else. */
export function createClient(config: Config, options: CreateClientOptions): Promise<{ client_id: string; client_secret: string }> {
  const kind = options.kind ?? 'internal';
  if (kind !== 'internal' && kind !== 'contractor') throw new Error('--kind is internal or contractor');
  const expiresAt = options.expires === undefined ? null : parseExpiry(options.expires);
  if (expiresAt === undefined) throw new Error('--expires is a date (2027-06-30) or an RFC 3339 date-time');
  return withCommandDatabase(config, async (db) => {
    const issued = await createClientRegistry(db, config.identity).register(
      { name: options.name, kind, scopes: words(options.scopes), purposes: words(options.purposes), expiresAt },
      CLI,
    );
    return credentialsOf(issued);
  });
}

export function listClients(config: Config): Promise<ClientDescription[]> {
  return withCommandDatabase(config, (db) => createClientRegistry(db, config.identity).list());
}

export function disableClient(config: Config, clientId: string): Promise<ClientDescription> {
  return withCommandDatabase(config, (db) => createClientRegistry(db, config.identity).disable(clientId, CLI));
}

export function rotateClientSecret(config: Config, clientId: string): Promise<{ client_id: string; client_secret: string; previous_secret_expires_at: string | null }> {
  return withCommandDatabase(config, async (db) => {
    const issued = await createClientRegistry(db, config.identity).rotateSecret(clientId, CLI);
    return { ...credentialsOf(issued), previous_secret_expires_at: issued.client.previous_secret_expires_at };
  });
}

const credentialsOf = (issued: IssuedCredentials) => ({ client_id: issued.client_id, client_secret: issued.client_secret });
