import type { Request } from 'express';
import type { ClientCredentials } from '../identity/client-authenticator';
import { clientAddress } from './client-address';
import { invalidClient, invalidRequest } from '../identity/oauth-error';
import type { OAuthRequest, OAuthSource } from '../identity/token-service';

const KNOWN_PARAMETERS = new Set(['grant_type', 'scope', 'purpose', 'client_id', 'client_secret', 'token', 'token_type_hint']);

/** Where an OAuth endpoint request came from: its source address, the vault's request id and the client id it names. */
export function oauthSource(req: Request): OAuthSource {
  return { address: clientAddress(req) ?? 'unknown', requestId: req.requestId, clientIdSent: clientIdSent(req) };
}

/** The client id in the Basic credentials or, in a body read already, the client_id parameter; for the trail only. */
function clientIdSent(req: Request): string | undefined {
  const authorization = req.get('authorization');
  if (authorization !== undefined) {
    try {
      return parseBasic(authorization).clientId;
    } catch {
      return undefined;
    }
  }
  const sent: unknown = (req.body as Record<string, unknown> | undefined)?.client_id;
  return typeof sent === 'string' ? sent : undefined;
}

/** Reads an OAuth endpoint request: form parameters and client credentials (one method only). */
export function readOAuthRequest(req: Request): OAuthRequest {
  // Taken from the URL, a secret would be in every log and history on the way; ignored, a grant
  // sent there would be answered as one never asked for. Like every route that takes no query, refused.
  if (Object.keys(req.query as object).length > 0) throw invalidRequest('Send the parameters in the request body, not in the URL query');
  const params = formParameters(req.body);
  const credentials = clientCredentials(req.get('authorization'), params);
  delete params.client_secret;
  return { credentials, params };
}

/** Each parameter at most once (RFC 6749 §3.2); an empty value counts as absent (§3.1). */
function formParameters(body: unknown): Record<string, string> {
  const params: Record<string, string> = {};
  if (body === undefined || body === null) return params;
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (Array.isArray(value)) {
      throw invalidRequest(KNOWN_PARAMETERS.has(name) ? `The ${name} parameter is repeated` : 'A parameter is repeated');
    }
    if (typeof value === 'string' && value !== '') params[name] = value;
  }
  return params;
}

/** RFC 6749 §2.3.1: HTTP Basic or the client_id and client_secret parameters, never both. */
function clientCredentials(authorization: string | undefined, params: Record<string, string>): ClientCredentials {
  if (authorization !== undefined) {
    if (params.client_secret !== undefined) throw invalidRequest('Use one client authentication method, not two');
    const basic = parseBasic(authorization);
    if (params.client_id !== undefined && params.client_id !== basic.clientId) throw invalidRequest('The client_id parameter contradicts the Authorization header');
    return basic;
  }
  if (params.client_id !== undefined && params.client_secret !== undefined) {
    return { clientId: params.client_id, clientSecret: params.client_secret };
  }
  throw invalidClient();
}

function parseBasic(authorization: string): ClientCredentials {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  if (!match) throw invalidClient();
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw invalidClient();
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw invalidClient();
  }
}

// The client id and secret are form-urlencoded before they are joined (RFC 6749 §2.3.1).
const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
