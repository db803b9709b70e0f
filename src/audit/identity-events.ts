import type { AuditEventInput } from './events';
import { holdsNumber } from '../observability/planted-numbers';

/**
 * The events identity reports through its audit hook (src/identity/audit-hook.ts), described
 * here by shape because audit does not depend on identity; the composition root passes one to
 * the other and the compiler checks that the shapes still agree.
 */
export type IdentityEvent =
  | { type: 'client.registered' | 'client.disabled' | 'client.grants_changed' | 'client.secret_rotated'; clientId: string; actor: IdentityActor; endedPrevious?: boolean; notDone?: string }
  | { type: 'token.issued'; clientId: string; jti: string; scopes: string[]; purpose?: string; address?: string; requestId?: string }
  | { type: 'token.refused'; clientId?: string; reason: string; address?: string; requestId?: string }
  | { type: 'token.revoked'; clientId: string; jti: string; address?: string; requestId?: string }
  | { type: 'token.revoke_refused'; clientId?: string; jti?: string; reason: string; address?: string; requestId?: string };

export type IdentityActor = { via: 'api'; clientId: string; requestId?: string; address?: string } | { via: 'cli' } | { via: 'bootstrap' };

// A client id someone typed at the token endpoint may be anything, a personal value included:
// only the vault's own id form goes into the trail, and not a card number written in that form.
const CLIENT_ID = /^cli_[A-Za-z0-9_-]{16}$/;
const REASON = /^[a-z_]{1,64}$/;

function refusal(event: { clientId?: string; reason: string; address?: string }): Pick<AuditEventInput, 'reason' | 'clientId' | 'sourceAddress'> {
  return {
    reason: REASON.test(event.reason) ? event.reason : 'invalid_request',
    clientId: event.clientId && CLIENT_ID.test(event.clientId) && !holdsNumber(event.clientId) ? event.clientId : undefined,
    sourceAddress: event.address,
  };
}

export function auditEventOfIdentity(event: IdentityEvent, requestId?: string): AuditEventInput {
  switch (event.type) {
    case 'token.issued':
      return { action: 'token.issue', outcome: 'allowed', clientId: event.clientId, scopes: event.scopes, purpose: event.purpose, target: event.jti, sourceAddress: event.address, requestId: event.requestId ?? requestId };
    case 'token.refused':
      return { action: 'token.issue', outcome: 'denied', ...refusal(event), requestId: event.requestId ?? requestId };
    case 'token.revoked':
      return { action: 'token.revoke', outcome: 'allowed', clientId: event.clientId, target: event.jti, sourceAddress: event.address, requestId: event.requestId ?? requestId };
    case 'token.revoke_refused':
      // The token's id (not the token) names what was presented: another client's, when that is the refusal.
      return { action: 'token.revoke', outcome: 'denied', ...refusal(event), target: event.jti, requestId: event.requestId ?? requestId };
    default: {
      // An operator at the command line has no client id; the trail names how they acted.
      // A rotation that ended the previous secret at once (it leaked) says so. A change recorded
      // before it took effect and then not committed is followed by its `not_done:<code>`.
      const notDone = event.notDone !== undefined && REASON.test(event.notDone) ? `not_done:${event.notDone}` : undefined;
      const outcome = event.notDone === undefined ? 'allowed' : 'denied';
      const reason = event.notDone !== undefined ? (notDone ?? 'not_done') : event.endedPrevious ? 'previous_secret_ended' : undefined;
      if (event.actor.via !== 'api') return { action: event.type, outcome, reason, clientId: `operator:${event.actor.via}`, target: event.clientId, requestId };
      const { clientId, address } = event.actor;
      return { action: event.type, outcome, reason, clientId, target: event.clientId, sourceAddress: address, requestId: event.actor.requestId ?? requestId };
    }
  }
}
