import { echoedName, insufficientScopeChallenge, invalidTokenChallenge, VaultError, type FieldProblem } from '../errors/vault-error';
import { ClientStore, isUniqueViolation, type ClientKind, type StoredClient } from '../store/clients';
import type { Argon2Gate } from './argon2-gate';
import type { Actor, IdentityAuditEvent, IdentityAuditHook } from './audit-hook';
import { generateSecret } from './client-secret';
import { CLIENT_ID_PATTERN, newClientId } from './ids';
import { clientLapsed } from './token-verifier';
import { isPurpose } from './purposes';
import { ADMIN_SCOPES, isAdminScope, isDataScope, isScope } from './scopes';

export interface ClientRegistration {
  name: string;
  kind: ClientKind;
  scopes: string[];
  purposes: string[];
  expiresAt?: Date | null;
}

export interface GrantChange {
  scopes?: string[];
  purposes?: string[];
  expiresAt?: Date | null;
}

/** A client as administrators see it: never a secret or a hash. */
export interface ClientDescription {
  client_id: string;
  name: string;
  kind: ClientKind;
  scopes: string[];
  purposes: string[];
  enabled: boolean;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  secret_rotated_at: string | null;
  previous_secret_expires_at: string | null;
}

export interface IssuedCredentials {
  client_id: string;
  client_secret: string;
  client: ClientDescription;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Registers clients and changes them; each secret is generated here and shown exactly once. */
export class ClientRegistry {
  constructor(
    private readonly store: ClientStore,
    private readonly argon2: Argon2Gate,
    private readonly settings: { secretRotationOverlapSeconds: number },
    private readonly audit: IdentityAuditHook,
    /** Told of every change to a client's standing, so this instance stops serving what it cached at once. */
    private readonly changed: (clientId: string) => void = () => undefined,
  ) {}

  async register(registration: ClientRegistration, actor: Actor): Promise<IssuedCredentials> {
    checkRegistration(registration);
    checkDelegation(actor, registration.scopes);
    const { secretId, secret } = generateSecret();
    const secretHash = await this.argon2.hash(secret);
    const id = newClientId();
    const client = await this.auditedFirst({ type: 'client.registered', clientId: id, actor }, () => this.underLock(actor, [], async (store, _locked, now) => {
      checkDelegation(now, registration.scopes);
      try {
        return await store.insert({
          id,
          name: registration.name,
          kind: registration.kind,
          secretId,
          secretHash,
          scopes: unique(registration.scopes),
          purposes: unique(registration.purposes),
          expiresAt: registration.expiresAt ?? null,
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new VaultError('client_name_taken', 409, 'A client with this name already exists');
        throw error;
      }
    }));
    return { client_id: client.id, client_secret: secret, client: describeClient(client) };
  }

  /**
   * The first start of a development vault: when no client exists at all, an admin client
   * with every admin and audit scope, so the operator can register the others.
   */
  async registerFirstAdmin(): Promise<IssuedCredentials | undefined> {
    if ((await this.store.count()) > 0) return undefined;
    return this.register({ name: 'admin', kind: 'internal', scopes: [...ADMIN_SCOPES], purposes: [] }, { via: 'bootstrap' });
  }

  async list(): Promise<ClientDescription[]> {
    return (await this.store.list()).map(describeClient);
  }

  async describe(clientId: string): Promise<ClientDescription> {
    return describeClient(await this.existing(clientId));
  }

  async changeGrants(clientId: string, change: GrantChange, actor: Actor): Promise<ClientDescription> {
    // Checked on the client as it stands, so a refusal is recorded as one; and again under the lock.
    checkGrantChange(actor, clientId, await this.existing(clientId), change);
    const updated = await this.auditedFirst({ type: 'client.grants_changed', clientId, actor }, () =>
      this.changeClient(clientId, actor, async (store, current, now) => {
        checkGrantChange(now, clientId, current, change);
        return store.updateGrants(clientId, {
          scopes: change.scopes && unique(change.scopes),
          purposes: change.purposes && unique(change.purposes),
          expiresAt: change.expiresAt,
        });
      }),
    );
    this.changed(clientId);
    return describeClient(updated!);
  }

  async disable(clientId: string, actor: Actor): Promise<ClientDescription> {
    if (actor.via === 'api' && actor.clientId === clientId) {
      throw new VaultError('cannot_disable_self', 409, 'A client cannot disable itself', {
        detail: 'Disable it with another administrator client or from the command line',
      });
    }
    const current = await this.existing(clientId);
    checkAuthorityOver(actor, current);
    // Disabling it again changes nothing, so nothing is written or recorded as a change.
    if (!current.enabled) return describeClient(current);
    let updated: StoredClient | undefined;
    try {
      updated = await this.auditedFirst({ type: 'client.disabled', clientId, actor }, () =>
        this.changeClient(clientId, actor, async (store, target, now) => {
          checkAuthorityOver(now, target);
          // Disabled meanwhile by another request: this one changed nothing, which the trail says.
          if (!target.enabled) throw new DisabledMeanwhile(target);
          return store.setEnabled(target.id, false);
        }),
      );
    } catch (error) {
      // Answered as a second disable is: the client as it stands, which is as this request asked.
      if (error instanceof DisabledMeanwhile) return describeClient(error.client);
      throw error;
    }
    this.changed(clientId);
    return describeClient(updated!);
  }

  /**
   * A new secret; the previous one works for the configured overlap, so the client can be
   * redeployed without an outage, or not at all with `endPrevious` (a secret that leaked).
   */
  async rotateSecret(clientId: string, actor: Actor, { endPrevious = false }: { endPrevious?: boolean } = {}): Promise<IssuedCredentials> {
    const current = await this.existing(clientId);
    checkAuthorityOver(actor, current);
    if (!current.enabled) throw clientDisabled();
    const { secretId, secret } = generateSecret();
    const secretHash = await this.argon2.hash(secret);
    const previousExpiresAt = new Date(Date.now() + (endPrevious ? 0 : this.settings.secretRotationOverlapSeconds * 1000));
    const updated = await this.auditedFirst({ type: 'client.secret_rotated', clientId, actor, endedPrevious: endPrevious }, () => this.changeClient(clientId, actor, async (store, target, now) => {
      checkAuthorityOver(now, target);
      // Disabling is for good (its credentials may be in the wrong hands): a secret it could never use would only mislead.
      if (!target.enabled) throw clientDisabled();
      return store.replaceSecret(clientId, secretId, secretHash, previousExpiresAt);
    }));
    return { client_id: clientId, client_secret: secret, client: describeClient(updated!) };
  }

  /**
   * A change to clients, audited before it takes effect, as every change the vault makes is:
   * recorded after its commit, a crash between the two would leave a client registered, or a
   * secret handed out, that the trail does not show (and the independence of two approvers is
   * read from the trail). Should the change then be refused under the lock (a race another
   * request won), that is recorded too, as `not_done:<code>`. What can be refused before (a
   * client not found, no authority over it, a grant it may not give) is refused before anything
   * is recorded.
   */
  private async auditedFirst<T>(event: Extract<IdentityAuditEvent, { type: `client.${string}` }>, change: () => Promise<T>): Promise<T> {
    await this.audit.record(event);
    try {
      return await change();
    } catch (error) {
      // Only a refusal says for certain that nothing changed: a 5xx may come from a commit whose
      // outcome is unknown. Like every audit write, a failed one answers 503 in the refusal's place.
      if ((error instanceof VaultError && error.status < 500) || error instanceof DisabledMeanwhile) await this.audit.record({ ...event, notDone: error.code });
      throw error;
    }
  }

  /** `change` to an existing client, under `underLock`; 404 when there is no such client. */
  private changeClient<T>(clientId: string, actor: Actor, change: (store: ClientStore, target: StoredClient, actor: Actor) => Promise<T>): Promise<T> {
    if (!CLIENT_ID_PATTERN.test(clientId)) throw clientNotFound();
    return this.underLock(actor, [clientId], (store, locked, now) => {
      const target = locked.get(clientId);
      if (!target) throw clientNotFound();
      return change(store, target, now);
    });
  }

  /**
   * Runs `work` in one transaction with the rows of `clientIds` locked and, over the API, the
   * acting client's own row too, its standing read again under that lock (`actorUnderLock`).
   * Two administrators demoting or disabling each other at once are then taken one after the
   * other, and the second finds it no longer may: checked before either change, both would
   * pass and leave no client administrator.
   */
  private underLock<T>(actor: Actor, clientIds: readonly string[], work: (store: ClientStore, locked: Map<string, StoredClient>, actor: Actor) => Promise<T>): Promise<T> {
    return this.store.inTransaction(async (store) => {
      const ids = actor.via === 'api' ? [...clientIds, actor.clientId] : clientIds;
      const locked = ids.length ? await store.lock(ids) : new Map<string, StoredClient>();
      return work(store, locked, actor.via === 'api' ? actorUnderLock(actor, locked.get(actor.clientId)) : actor);
    });
  }

  private async existing(clientId: string): Promise<StoredClient> {
    const client = CLIENT_ID_PATTERN.test(clientId) ? await this.store.find(clientId) : undefined;
    if (!client) throw clientNotFound();
    return client;
  }
}

const clientNotFound = () => new VaultError('client_not_found', 404, 'No such client');

/** A disable that found the client disabled by another request under the lock: `not_done`, answered 200. */
class DisabledMeanwhile extends Error {
  readonly code = 'client_already_disabled';
  constructor(readonly client: StoredClient) {
    super('The client was disabled meanwhile by another request');
  }
}
const clientDisabled = () => new VaultError('client_disabled', 409, 'A disabled client stays disabled', { detail: 'Register a new client (under a new name) to replace it' });

/**
 * An API actor as its locked row stands: enabled, unexpired, and with only the scopes its
 * token carries that the row still grants. Refused as the request would have been had it come
 * a moment later: disabled or expired, 401 `invalid_token`; without admin:clients, 403.
 */
function actorUnderLock(actor: Extract<Actor, { via: 'api' }>, row: StoredClient | undefined): Actor {
  const lapsed = clientLapsed(row);
  if (lapsed || !row) throw new VaultError('invalid_token', 401, lapsed!, { headers: invalidTokenChallenge(lapsed!) });
  const scopes = actor.scopes.filter((scope) => row.scopes.includes(scope));
  if (!scopes.includes('admin:clients')) {
    throw new VaultError('insufficient_scope', 403, 'The access token lacks the scope this resource requires', {
      detail: 'Requires scope admin:clients, which this client lost while the request was in flight',
      headers: insufficientScopeChallenge('admin:clients'),
    });
  }
  return { ...actor, scopes };
}

/** Whether `actor` may make `change` to the client as it stands (`current`); throws the refusal. */
function checkGrantChange(actor: Actor, clientId: string, current: StoredClient, change: GrantChange): void {
  checkAuthorityOver(actor, current);
  if (change.scopes) {
    checkDelegation(actor, change.scopes.filter((scope) => !current.scopes.includes(scope)));
    // Removing its own client administration over the API would leave it unable to undo that.
    if (actor.via === 'api' && actor.clientId === clientId && current.scopes.includes('admin:clients') && !change.scopes.includes('admin:clients')) {
      throw new VaultError('cannot_demote_self', 409, 'A client cannot remove admin:clients from itself', {
        detail: 'Change it with another administrator client that holds each admin scope this one holds',
      });
    }
  }
  checkRegistration({
    name: current.name,
    kind: current.kind,
    scopes: change.scopes ?? current.scopes,
    purposes: change.purposes ?? current.purposes,
    expiresAt: change.expiresAt === undefined ? current.expiresAt : change.expiresAt,
  });
}

/**
 * Over the API, an admin or audit scope is granted only by a client that holds it now: a
 * client administrator alone cannot mint a key administrator, a policy author or an auditor
 * (and with it the second approver the two-person rules ask for). Data scopes are what client
 * administration hands out; operators at the command line grant anything.
 */
function checkDelegation(actor: Actor, granted: readonly string[]): void {
  if (actor.via !== 'api') return;
  const beyond = granted.filter((scope) => isAdminScope(scope) && !actor.scopes.includes(scope));
  if (beyond.length) {
    throw new VaultError('scope_not_delegable', 403, 'An admin or audit scope is granted only by a client that holds it', {
      detail: `This request's token does not carry ${beyond.join(', ')}: request a token with it in its scope, or use the command line`,
    });
  }
}

/**
 * Over the API, a client holding admin or audit scopes is changed (its grants, disabled, a new
 * secret) only by a client that holds each of them too. Otherwise client administration alone
 * could take over a key administrator by rotating its secret and using the new one, or strip
 * or disable the second approver a two-person rule needs.
 */
function checkAuthorityOver(actor: Actor, target: StoredClient): void {
  if (actor.via !== 'api') return;
  const beyond = target.scopes.filter((scope) => isAdminScope(scope) && !actor.scopes.includes(scope));
  if (beyond.length) {
    throw new VaultError('client_not_manageable', 403, 'A client holding an admin or audit scope is changed only by a client that holds it too', {
      detail: `This request's token does not carry ${beyond.join(', ')}: request a token with it in its scope, or use the command line`,
    });
  }
}

/** The rules of a grant, each a sentence; all problems are reported at once. */
function checkRegistration(registration: ClientRegistration): void {
  const problems: FieldProblem[] = [];
  const problem = (pointer: string, detail: string) => problems.push({ pointer, detail });
  const { name, kind, scopes, purposes, expiresAt } = registration;

  if (!NAME_PATTERN.test(name)) problem('/name', 'A name is 1 to 63 letters, digits, dots, dashes or underscores');
  if (kind !== 'internal' && kind !== 'contractor') problem('/kind', 'A kind is internal or contractor');
  if (scopes.length === 0) problem('/scopes', 'A client is granted at least one scope');
  scopes.forEach((s, i) => isScope(s) || problem(`/scopes/${i}`, `Unknown scope${echoedName(s)}`));
  purposes.forEach((p, i) => isPurpose(p) || problem(`/purposes/${i}`, `Unknown purpose${echoedName(p)}`));
  if (kind === 'contractor' && scopes.some(isAdminScope)) problem('/scopes', 'A contractor is never granted an admin or audit scope');
  if (scopes.some(isDataScope) && purposes.length === 0) problem('/purposes', 'A client granted a data scope is granted at least one purpose');
  // Said only when every scope was understood: a misspelt data scope is the one problem then.
  if (!scopes.some(isDataScope) && scopes.every(isScope) && purposes.length > 0) problem('/purposes', 'Purposes are granted only with a data scope');
  if (expiresAt && expiresAt.getTime() <= Date.now()) problem('/expires_at', 'The expiry must be in the future');
  // DESIGN.md: a contractor uses the data only for the service it was engaged for, and its grant expires.
  if (kind === 'contractor' && !expiresAt) problem('/expires_at', 'A contractor\'s grant has an expiry (the end of its contract)');
  if (problems.length) throw new VaultError('invalid_client_grant', 400, 'The client registration is not valid', { errors: problems });
}

const unique = (values: string[]) => [...new Set(values)];

export function describeClient(client: StoredClient): ClientDescription {
  const iso = (date: Date | null) => (date ? date.toISOString() : null);
  return {
    client_id: client.id,
    name: client.name,
    kind: client.kind,
    scopes: client.scopes,
    purposes: client.purposes,
    enabled: client.enabled,
    expires_at: iso(client.expiresAt),
    created_at: client.createdAt.toISOString(),
    updated_at: client.updatedAt.toISOString(),
    secret_rotated_at: iso(client.secretRotatedAt),
    previous_secret_expires_at: iso(client.previousSecretExpiresAt),
  };
}
