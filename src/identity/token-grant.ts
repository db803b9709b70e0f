import type { StoredClient } from '../store/clients';
import { invalidRequest, invalidScope } from './oauth-error';
import { isPurpose } from './purposes';
import { isDataScope, isScope, splitScopeList } from './scopes';

export interface GrantRequest {
  scope?: string;
  purpose?: string;
}

export interface Grant {
  scopes: string[];
  purpose?: string;
}

/**
 * What a token may carry: the scopes asked for that the client is granted (RFC 6749 §3.3 lets
 * the server narrow), and, when any of them reaches data, exactly one granted purpose.
 */
export function decideGrant(client: StoredClient, request: GrantRequest): Grant {
  if (request.scope === undefined) throw invalidScope('A scope is required');
  const asked = splitScopeList(request.scope);
  if (!asked) throw invalidScope('The scope parameter is malformed');
  const unknown = asked.filter((scope) => !isScope(scope));
  if (unknown.length) throw invalidScope('The request names a scope the vault does not know');
  const scopes = [...new Set(asked)].filter((scope) => client.scopes.includes(scope));
  if (scopes.length === 0) throw invalidScope('The client is granted none of the requested scopes');

  const needsPurpose = scopes.some(isDataScope);
  const { purpose } = request;
  if (!needsPurpose) {
    // A purpose with data scopes all narrowed away: what is wrong is the grant, not the purpose.
    if (purpose !== undefined && asked.some(isDataScope)) throw invalidScope('The client is granted none of the requested data scopes');
    if (purpose !== undefined) throw invalidRequest('Admin and audit scopes take no purpose');
    return { scopes };
  }
  if (purpose === undefined) throw invalidRequest('A data scope requires exactly one purpose');
  if (/\s/.test(purpose)) throw invalidRequest('A token carries exactly one purpose');
  // An unknown purpose is refused as an unknown scope is (RFC 6749 §5.2: "unknown").
  if (!isPurpose(purpose)) throw invalidScope('The purpose is not one the vault knows');
  if (!client.purposes.includes(purpose)) throw invalidScope('The client is not granted this purpose');
  return { scopes, purpose };
}
