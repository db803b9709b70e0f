import type { ErrorRequestHandler, Request, Response } from 'express';
import { VaultError, type FieldProblem } from '../errors/vault-error';
import { describeError, type Logger } from '../observability/logger';
import { isDatabaseBusy, isDatabaseUnavailable } from '../store/database-errors';

export const PROBLEM_TYPE_PREFIX = 'urn:pdvault:problem:';

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  request_id: string;
  detail?: string;
  errors?: FieldProblem[];
}

export function sendProblem(req: Request, res: Response, error: VaultError): void {
  const body: ProblemBody = {
    type: PROBLEM_TYPE_PREFIX + error.code,
    title: error.message,
    status: error.status,
    code: error.code,
    request_id: req.requestId,
  };
  if (error.expose && error.detail) body.detail = error.detail;
  if (error.expose && error.errors?.length) body.errors = error.errors.map((problem) => withoutEchoedNames(problem, req.body));
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  res.status(error.status).type('application/problem+json').send(JSON.stringify(body));
}

// A member name, or nothing (`/` is the whole document). A name with three digits or more is not
// plain: a card or phone number can hide in an otherwise plain name (`pan_4111111111111111`,
// `tel_15_55_12`); no name the vault knows has more than one.
const PLAIN_NAME = /^(?:(?!(?:\D*\d){3})[A-Za-z_]\w{0,63}|)$/;
// An index into an array of at most a thousand items; repeated only where the body holds an array.
const INDEX = /^(?:0|[1-9]\d{0,3})$/;

/**
 * A pointer repeats the names of what the caller sent, and a name can be anything: an email
 * address or a card number written as a property or a query parameter, or inside one. Only plain
 * names, and indexes into the body's own arrays, are repeated back (a member named `7319`, a
 * security code sent as a name, is no index); at any other segment the pointer stops, at the
 * object that holds it, and the detail says so.
 */
function withoutEchoedNames(problem: FieldProblem, body: unknown): FieldProblem {
  const segments = problem.pointer.split('/').slice(1);
  let node = body;
  const plain = segments.findIndex((segment) => {
    const repeatable = PLAIN_NAME.test(segment) || (Array.isArray(node) && INDEX.test(segment));
    node = childOf(node, segment.replace(/~1/g, '/').replace(/~0/g, '~'));
    return !repeatable;
  });
  if (plain === -1) return problem;
  return { pointer: segments.slice(0, plain).map((segment) => `/${segment}`).join(''), detail: `${problem.detail} (in a member whose name is not repeated back)` };
}

function childOf(node: unknown, name: string): unknown {
  if (Array.isArray(node)) return INDEX.test(name) ? node[Number(name)] : undefined;
  return node !== null && typeof node === 'object' && Object.hasOwn(node, name) ? (node as Record<string, unknown>)[name] : undefined;
}

/**
 * The one place an error becomes a response. Errors the vault raised keep their code; the
 * 4xx errors that express and body-parser raise get stable codes of their own; anything else is
 * a 500 whose details are logged, never sent.
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const problem = toVaultError(error);
    if (problem.status === 503) {
      // A dependency that is down (database, KMS, audit): a warning naming it and why, without a
      // stack on every request for as long as the outage lasts.
      const { name, code, message } = describeError(error);
      logger.warn({ request_id: req.requestId, problem: problem.code, cause: { name, code, message } }, 'request refused: a dependency is unavailable');
    } else if (problem.status >= 500 && problem.status !== 501 && problem.status !== 505) {
      // 501 and 505 are the caller's: a method, transfer coding or HTTP version the vault does not implement, not a fault.
      logger.error({ request_id: req.requestId, err: describeError(error) }, 'request failed');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (req.method === 'POST' && OAUTH_ENDPOINTS.has(req.path) && answeredAsOAuthError(problem.status)) {
      sendOAuthError(res, problem);
      return;
    }
    sendProblem(req, res, problem);
  };
}

// The OAuth endpoints, as routed (a path that only resembles one is a 404 problem), and the
// refusals an OAuth client reads there as RFC 6749 errors: every 4xx but those with answers of
// their own (401 invalid_client and 429 come from the endpoint; 405 names the methods), and 503.
const OAUTH_ENDPOINTS = new Set(['/oauth/token', '/oauth/revoke']);
const answeredAsOAuthError = (status: number) => status === 503 || (status >= 400 && status < 500 && status !== 401 && status !== 404 && status !== 405 && status !== 429);

/**
 * RFC 6749 §5.2: the OAuth endpoints answer any bad request as `invalid_request` with 400, also
 * when the parser or input hygiene refused it before the endpoint ran (a body that is no form,
 * or too large, included), and a dependency that is down (the database, the audit trail) as
 * `temporarily_unavailable` with Retry-After: an OAuth client reads `error`, not a problem.
 */
function sendOAuthError(res: Response, error: VaultError): void {
  const description = error.message.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');
  res.setHeader('Pragma', 'no-cache');
  if (error.status === 503) {
    res.setHeader('Retry-After', error.headers?.['Retry-After'] ?? '1');
    res.status(503).json({ error: 'temporarily_unavailable', error_description: description });
    return;
  }
  res.status(400).json({ error: 'invalid_request', error_description: description });
}

/** Any error as the problem it is answered with. */
export function toVaultError(error: unknown): VaultError {
  if (error instanceof VaultError) return error;
  const known = error as { type?: string; status?: number; statusCode?: number; limit?: unknown };
  const status = known.status ?? known.statusCode;
  // body-parser's messages quote the body; never pass them on.
  switch (known.type) {
    case 'entity.parse.failed':
      return new VaultError('malformed_json', 400, 'The request body is not valid JSON');
    case 'entity.too.large':
      return new VaultError('body_too_large', 413, 'The request body is larger than the vault accepts', typeof known.limit === 'number' ? { detail: `At most ${known.limit} bytes` } : {});
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new VaultError('unsupported_media_type', 415, 'The request body encoding is not supported');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new VaultError('bad_request', 400, 'The request body could not be read');
    case 'parameters.too.many':
      return new VaultError('bad_request', 400, 'The request has too many parameters');
    default:
  }
  if (isDatabaseUnavailable(error)) {
    return new VaultError('database_unavailable', 503, 'The database is unavailable; retry shortly', { headers: { 'Retry-After': '1' } });
  }
  if (isDatabaseBusy(error)) {
    return new VaultError('database_busy', 503, 'The database could not serve the request in time; retry shortly', { headers: { 'Retry-After': '1' } });
  }
  if (error instanceof URIError) return new VaultError('invalid_characters', 400, 'The request URL is not valid UTF-8, or a % in it starts no percent-escape');
  if (isInflateError(error)) {
    return new VaultError('bad_request', 400, 'The request body does not decompress as its Content-Encoding says', {
      detail: 'Send it as gzip, deflate or br as declared, or uncompressed without Content-Encoding',
    });
  }
  // A library's own refusal the vault does not name more precisely: the caller's request, as 400
  // `bad_request` (the one status openapi.yaml catalogues that code under).
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new VaultError('bad_request', 400, 'The request could not be processed');
  }
  return new VaultError('internal_error', 500, 'The vault could not complete the request');
}

// zlib's own failure to decompress a body (gzip and deflate: Z_DATA_ERROR and kin; brotli: ERR__ERROR_…).
function isInflateError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR__ERROR_'));
}
