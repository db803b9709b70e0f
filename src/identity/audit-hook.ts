/**
 * THE place where auditing (issue 5) plugs into identity. Every client administration action
 * and every token decision is passed to `record` and awaited, so the audit writer can fail the
 * operation closed. Events carry ids, never secrets or tokens.
 */
export interface IdentityAuditHook {
  record(event: IdentityAuditEvent): Promise<void>;
}

export type IdentityAuditEvent =
  | { type: 'client.registered' | 'client.disabled' | 'client.grants_changed' | 'client.secret_rotated'; clientId: string; actor: Actor; endedPrevious?: boolean; notDone?: string }
  | { type: 'token.issued'; clientId: string; jti: string; scopes: string[]; purpose?: string; address?: string; requestId?: string }
  | { type: 'token.refused'; clientId?: string; reason: string; address?: string; requestId?: string }
  | { type: 'token.revoked'; clientId: string; jti: string; address?: string; requestId?: string }
  | { type: 'token.revoke_refused'; clientId?: string; jti?: string; reason: string; address?: string; requestId?: string };

/**
 * Who changes a client: an admin client over the API (with the scopes it holds now, and the
 * request and address it came from, as every admin event records them), or an operator.
 */
export type Actor = { via: 'api'; clientId: string; scopes: readonly string[]; requestId?: string; address?: string } | { via: 'cli' } | { via: 'bootstrap' };

export const NO_IDENTITY_AUDIT: IdentityAuditHook = { record: async () => undefined };
