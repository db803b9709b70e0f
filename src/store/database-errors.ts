import { types } from 'node:util';
import { isDatabaseError } from '../observability/logger';

/**
 * What a failure of the database says about it: unavailable (the caller may retry once it is
 * back; a command says so in one line) or busy (this request could not be served in time).
 * Neither is a vault fault.
 */

// Connection-level failures (SQLSTATE class 08, admin shutdown, too many connections) and the
// socket errors, pool time-outs and client-side query time-outs around them: a dependency that
// is down or unreachable, not a vault fault. So are the refusals a server gives a new session
// only: the database gone or renamed (3D000), the role's password or pg_hba.conf entry changed
// under the vault (28P01, 28000), and a name that no longer resolves.
const DATABASE_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300', '3D000', '28P01', '28000']);
// 55000 is any object not in the state a statement needs; from the server's check of a new
// session's database (its routine, whatever language the server answers in), a database not
// accepting connections (ALLOW_CONNECTIONS false, a maintenance window). Only that one is an outage.
const NOT_ACCEPTING_CONNECTIONS = /is not currently accepting connections/;

export function isDatabaseUnavailable(error: unknown): boolean {
  // Socket errors are made by Node's own Error, which is not this realm's under a test runner's vm.
  if (!(error instanceof Error) && !types.isNativeError(error)) return false;
  const { code, name, message, routine } = error as Error & { code?: unknown; routine?: unknown };
  if (typeof code === 'string' && (DATABASE_DOWN_CODES.has(code) || code.startsWith('08'))) return true;
  if (code === '55000' && (routine === 'CheckMyDatabase' || NOT_ACCEPTING_CONNECTIONS.test(message))) return true;
  return name === 'KnexTimeoutError' || /Connection terminated|connection error and is not queryable|Query read timeout/.test(message);
}

// The database is up but could not serve this request in time: a statement past the statement
// timeout (a row lock held by a long rotation batch, say), a lock not available, a deadlock or a
// serialization failure. The statement's transaction rolled back and a retry may pass: the
// caller's to retry, not a vault fault. Like any 5xx, it does not say what else the request did.
const DATABASE_BUSY_CODES = new Set(['57014', '55P03', '40P01', '40001']);

export const isDatabaseBusy = (error: unknown): boolean => isDatabaseError(error) && DATABASE_BUSY_CODES.has(error.code);

/** SQLSTATE class 23, integrity constraint violation: a unique key taken, a reference missing. */
export const isConstraintViolation = (error: unknown): boolean => isDatabaseError(error) && error.code.startsWith('23');
