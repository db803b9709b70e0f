import crypto from 'node:crypto';
import type { Principal } from '../../../src/identity/access-token';
import type { ClientRegistration } from '../../../src/identity/client-registry';
import type { AccessContext } from '../../../src/policy/audit-hook';
import { accessToken, registerClient, type Credentials } from '../../identity/support/identity-helpers';
import type { TestVault } from '../../support/test-vault';

export interface Caller {
  credentials: Credentials;
  token: string;
  /** The token as the vault verified it: what a data route hands to decide(). */
  principal: Principal;
}

/**
 * A client registered with these grants, a real token from POST /oauth/token for `scope` and
 * `purpose`, and that token verified by the vault exactly as the authenticate middleware does.
 */
export async function callerWith(vault: TestVault, grants: Partial<ClientRegistration>, scope: string, purpose?: string): Promise<Caller> {
  const credentials = await registerClient(vault, { purposes: [], ...grants });
  const token = await accessToken(vault, credentials, purpose ? { scope, purpose } : { scope });
  return { credentials, token, principal: await vault.vault.identity.verifier.verify(token) };
}

/** A data client granted one scope and one purpose. */
export const dataCaller = (vault: TestVault, scope: string, purpose: string, kind: 'internal' | 'contractor' = 'internal') =>
  callerWith(vault, { kind, scopes: [scope], purposes: [purpose], ...(kind === 'contractor' && { expiresAt: new Date(Date.now() + 86_400_000) }) }, scope, purpose);

/** An admin client holding `scopes`, with a token for all of them. */
export const adminCaller = (vault: TestVault, scopes: string[]) => callerWith(vault, { scopes }, scopes.join(' '));

export const newSubjectId = () => `sub_${crypto.randomBytes(12).toString('base64url')}`;

export const contextFor = (label: string): AccessContext => ({ requestId: `req_${label}_${crypto.randomBytes(6).toString('hex')}`, sourceAddress: '127.0.0.1' });

export const bearer = (caller: Caller) => ({ Authorization: `Bearer ${caller.token}` });

/** The audit rows a request caused, oldest first. */
export async function auditRowsOf(vault: TestVault, requestId: string) {
  return vault.vault.db('audit_events').where({ request_id: requestId }).orderBy('seq');
}

/**
 * A client `by` registers through the admin API, with a token for `scopes`: its secret passed
 * through `by`'s hands (`by` needs admin:clients and every scope it hands out).
 */
export async function registeredThrough(vault: TestVault, by: Caller, scopes: string[]): Promise<Caller> {
  const res = await vault.post('/v1/admin/clients').set(bearer(by)).send({ name: `through-${crypto.randomBytes(6).toString("hex")}`, scopes }).expect(201);
  const credentials = { clientId: res.body.client_id as string, clientSecret: res.body.client_secret as string };
  const token = await accessToken(vault, credentials, { scope: scopes.join(' ') });
  return { credentials, token, principal: await vault.vault.identity.verifier.verify(token) };
}
