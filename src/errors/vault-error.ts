/** One problem with a field of the input, as a JSON Pointer into the request. */
export interface FieldProblem {
  pointer: string;
  detail: string;
}

export interface VaultErrorOptions {
  detail?: string;
  errors?: FieldProblem[];
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The vault's one error type. `code` is stable and machine-readable (tests assert on it);
 * `status` is the HTTP status it maps to. Details of a 5xx never leave the process: the
 * HTTP layer shows them only when `expose` is true.
 */
export class VaultError extends Error {
  override name = 'VaultError';
  readonly code: string;
  readonly status: number;
  readonly detail?: string;
  readonly errors?: FieldProblem[];
  readonly headers?: Record<string, string>;

  constructor(code: string, status: number, title: string, options: VaultErrorOptions = {}) {
    super(title, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }

  get expose(): boolean {
    return this.status < 500;
  }
}

export const badRequest = (code: string, title: string, options?: VaultErrorOptions) =>
  new VaultError(code, 400, title, options);

export const unavailable = (code: string, title: string, options?: VaultErrorOptions) =>
  new VaultError(code, 503, title, options);

/** RFC 6750 §3: the bearer challenge of every 401 and 403, wherever the refusal is made. */
export const BEARER_CHALLENGE = 'Bearer realm="pdvault"';

/** RFC 6750 §3.1: the challenge a 401 for a token the vault does not accept carries. */
export const invalidTokenChallenge = (description: string): Record<string, string> => ({
  'WWW-Authenticate': `${BEARER_CHALLENGE}, error="invalid_token", error_description="${description}"`,
});

/** RFC 6750 §3.1: the challenge a 403 for a missing scope carries, naming the scope. */
export const insufficientScopeChallenge = (scope: string): Record<string, string> => ({
  'WWW-Authenticate': `${BEARER_CHALLENGE}, error="insufficient_scope", scope="${scope}"`,
});

/**
 * A value from the request, for an error message that names what was not understood: quoted
 * when it reads as a name (a misspelt scope, purpose or level, `subjects:reed`), so the fix is
 * plain to see; otherwise nothing, since a value of another shape may be anything, a personal
 * one included (an email address or a card number pasted into the wrong box).
 */
export function echoedName(value: unknown): string {
  return typeof value === 'string' && ECHOABLE_NAME.test(value) ? ` ${JSON.stringify(value)}` : '';
}

const ECHOABLE_NAME = /^(?!(?:\D*\d){3})[a-z][a-z0-9_.:-]{0,63}$/;
