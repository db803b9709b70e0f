import type { Database } from './database';

export type ClientKind = 'internal' | 'contractor';

/** A client as stored. Secrets exist here only as argon2id hashes. */
export interface StoredClient {
  id: string;
  name: string;
  kind: ClientKind;
  secretId: string;
  secretHash: string;
  previousSecretId: string | null;
  previousSecretHash: string | null;
  previousSecretExpiresAt: Date | null;
  scopes: string[];
  purposes: string[];
  enabled: boolean;
  expiresAt: Date | null;
  secretRotatedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewClient {
  id: string;
  name: string;
  kind: ClientKind;
  secretId: string;
  secretHash: string;
  scopes: string[];
  purposes: string[];
  expiresAt: Date | null;
}

export interface ClientGrants {
  scopes?: string[];
  purposes?: string[];
  expiresAt?: Date | null;
}

/** Whether a client may still use a token: one indexed lookup, made on every request. */
export interface ClientStanding {
  enabled: boolean;
  expiresAt: Date | null;
  revoked: boolean;
  /** The grants as they stand now, read in the same query so a decision needs no second one. */
  scopes: string[];
  purposes: string[];
}

interface ClientRow {
  id: string;
  name: string;
  kind: ClientKind;
  secret_id: string;
  secret_hash: string;
  previous_secret_id: string | null;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | null;
  scopes: string[];
  purposes: string[];
  enabled: boolean;
  expires_at: Date | null;
  secret_rotated_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export class ClientStore {
  constructor(private readonly db: Database) {}

  async insert(client: NewClient): Promise<StoredClient> {
    const [row] = await this.db<ClientRow>('clients')
      .insert({
        id: client.id,
        name: client.name,
        kind: client.kind,
        secret_id: client.secretId,
        secret_hash: client.secretHash,
        scopes: client.scopes,
        purposes: client.purposes,
        expires_at: client.expiresAt,
      })
      .returning('*');
    return toClient(row!);
  }

  /** Runs `work` in one transaction, on a store bound to it. */
  inTransaction<T>(work: (store: ClientStore) => Promise<T>): Promise<T> {
    return this.db.transaction((trx) => work(new ClientStore(trx)));
  }

  /**
   * The clients of `ids` that exist, each row locked until the transaction ends. Locked in id
   * order, so two transactions locking the same pair never wait on each other in a cycle.
   */
  async lock(ids: readonly string[]): Promise<Map<string, StoredClient>> {
    const rows = await this.db<ClientRow>('clients').whereIn('id', [...new Set(ids)]).orderBy('id').forUpdate();
    return new Map(rows.map((row) => [row.id, toClient(row)]));
  }

  async find(id: string): Promise<StoredClient | undefined> {
    const row = await this.db<ClientRow>('clients').where({ id }).first();
    return row && toClient(row);
  }

  async findByName(name: string): Promise<StoredClient | undefined> {
    const row = await this.db<ClientRow>('clients').where({ name }).first();
    return row && toClient(row);
  }

  async list(): Promise<StoredClient[]> {
    const rows = await this.db<ClientRow>('clients').orderBy('created_at').orderBy('id');
    return rows.map(toClient);
  }

  async count(): Promise<number> {
    const [row] = await this.db('clients').count<{ count: string }[]>({ count: '*' });
    return Number(row!.count);
  }

  async setEnabled(id: string, enabled: boolean): Promise<StoredClient | undefined> {
    const [row] = await this.db<ClientRow>('clients')
      .where({ id })
      .update({ enabled, updated_at: this.db.fn.now() as unknown as Date })
      .returning('*');
    return row && toClient(row);
  }

  async updateGrants(id: string, grants: ClientGrants): Promise<StoredClient | undefined> {
    const changes: Partial<ClientRow> = {};
    if (grants.scopes) changes.scopes = grants.scopes;
    if (grants.purposes) changes.purposes = grants.purposes;
    if (grants.expiresAt !== undefined) changes.expires_at = grants.expiresAt;
    const [row] = await this.db<ClientRow>('clients')
      .where({ id })
      .update({ ...changes, updated_at: this.db.fn.now() as unknown as Date })
      .returning('*');
    return row && toClient(row);
  }

  /** The current secret becomes the previous one until `previousExpiresAt`; the new one is current. */
  async replaceSecret(id: string, secretId: string, secretHash: string, previousExpiresAt: Date): Promise<StoredClient | undefined> {
    const [row] = await this.db<ClientRow>('clients')
      .where({ id })
      .update({
        previous_secret_id: this.db.ref('secret_id') as unknown as string,
        previous_secret_hash: this.db.ref('secret_hash') as unknown as string,
        previous_secret_expires_at: previousExpiresAt,
        secret_id: secretId,
        secret_hash: secretHash,
        secret_rotated_at: this.db.fn.now() as unknown as Date,
        updated_at: this.db.fn.now() as unknown as Date,
      })
      .returning('*');
    return row && toClient(row);
  }

  async standing(clientId: string, jti: string): Promise<ClientStanding | undefined> {
    const row = await this.db('clients as c')
      .select('c.enabled', 'c.expires_at', 'c.scopes', 'c.purposes', this.db.raw('exists (select 1 from revoked_tokens r where r.jti = ?) as revoked', [jti]))
      .where('c.id', clientId)
      .first<{ enabled: boolean; expires_at: Date | null; revoked: boolean; scopes: string[]; purposes: string[] } | undefined>();
    return row && { enabled: row.enabled, expiresAt: row.expires_at, revoked: row.revoked, scopes: row.scopes, purposes: row.purposes };
  }
}

function toClient(row: ClientRow): StoredClient {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    secretId: row.secret_id,
    secretHash: row.secret_hash,
    previousSecretId: row.previous_secret_id,
    previousSecretHash: row.previous_secret_hash,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    scopes: row.scopes,
    purposes: row.purposes,
    enabled: row.enabled,
    expiresAt: row.expires_at,
    secretRotatedAt: row.secret_rotated_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** True when a store error is PostgreSQL's unique violation (23505). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}
