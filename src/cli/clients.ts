import { createAudit } from '../audit/audit';
import { auditEventOfIdentity } from '../audit/identity-events';
import type { Config } from '../config/config';
import { keyHierarchyFromConfig } from '../crypto/key-hierarchy-from-config';
import type { ClientDescription, ClientRegistry, IssuedCredentials } from '../identity/client-registry';
import { parseExpiry } from '../identity/expiry';
import { createClientRegistry } from '../identity/identity';
import { createLogger } from '../observability/logger';
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
  if (expiresAt === undefined) throw new Error('--expires must be a date (2027-06-30, through the end of that day) or an RFC 3339 date-time that exists, ending before the year 10000 (as a date, 9999-12-30 at the latest)');
  return withAuditedRegistry(config, async (registry) => {
    const issued = await registry.register({ name: options.name, kind, scopes: words(options.scopes), purposes: words(options.purposes), expiresAt }, CLI);
    return credentialsOf(issued);
  });
}

export function listClients(config: Config): Promise<ClientDescription[]> {
  return withCommandDatabase(config, (db) => createClientRegistry(db, config.identity).list());
}

export function disableClient(config: Config, clientId: string): Promise<ClientDescription> {
  return withAuditedRegistry(config, (registry) => registry.disable(clientId, CLI));
}

export function rotateClientSecret(config: Config, clientId: string, endPrevious = false): Promise<{ client_id: string; client_secret: string; previous_secret_expires_at: string | null }> {
  return withAuditedRegistry(config, async (registry) => {
    const issued = await registry.rotateSecret(clientId, CLI, { endPrevious });
    return { ...credentialsOf(issued), previous_secret_expires_at: issued.client.previous_secret_expires_at };
  });
}

/**
 * The client registry with the vault's audit trail behind it: a change made at the command line
 * is recorded as the API's are (by `operator:cli`), and the command ends only once it is.
 */
function withAuditedRegistry<T>(config: Config, work: (registry: ClientRegistry) => Promise<T>): Promise<T> {
  return withCommandDatabase(config, async (db) => {
    // Log lines go to stderr; stdout carries only the answer (which may hold a secret).
    const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level, process.stderr);
    const keys = keyHierarchyFromConfig(config, { db, logger });
    const audit = createAudit({ db, settings: config.audit, sealer: keys, logger });
    audit.start();
    try {
      return await work(createClientRegistry(db, config.identity, { record: (event) => audit.writer.append([auditEventOfIdentity(event)]) }));
    } finally {
      await audit.stop();
      keys.close();
    }
  });
}

const credentialsOf = (issued: IssuedCredentials) => ({ client_id: issued.client_id, client_secret: issued.client_secret });
