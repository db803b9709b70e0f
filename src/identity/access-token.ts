/** What a verified access token says about its bearer; routes and policy see only this. */
export interface Principal {
  clientId: string;
  scopes: string[];
  /** Present exactly when the token holds a data scope. */
  purpose?: string;
  jti: string;
  expiresAt: Date;
  /**
   * The client's grants as the database held them when this request's token was checked.
   * Attached per request (never cached with the token), so a decision sees grant changes at
   * once without asking the database a second time.
   */
  currentGrants?: { scopes: readonly string[]; purposes: readonly string[]; enabled: boolean; expiresAt: Date | null };
}

/** RFC 9068 §2.1: the `typ` of a JWT access token. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const ACCEPTED_TOKEN_TYPES = ['at+jwt', 'application/at+jwt'];

/** The longest lifetime any vault token has (the TTL setting's maximum). */
export const MAX_TOKEN_LIFETIME_SECONDS = 900;

/** RFC 9068 §2.2 claims every vault token carries; `purpose` joins them for data scopes. */
export const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'client_id', 'scope', 'jti', 'iat', 'exp'] as const;

/** The protected header carries only these; anything else (`jku`, `x5u`, `jwk`, `crit` …) is refused. */
export const ALLOWED_HEADER_PARAMETERS = new Set(['alg', 'typ', 'kid']);

/** Longer bearer tokens are refused before any parsing; a vault token is well under 1 KB. */
export const MAX_TOKEN_LENGTH = 4096;
