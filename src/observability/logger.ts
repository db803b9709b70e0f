import { types } from 'node:util';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Paths scrubbed from every log line. The vault's own code never logs bodies, headers or
 * query strings; this list is the second line of defence against a future log call that does.
 */
export const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["proxy-authorization"]',
  'client_secret',
  '*.client_secret',
  'password',
  '*.password',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'body',
  '*.body',
  'email',
  '*.email',
  'phone',
  '*.phone',
  'holder_name',
  '*.holder_name',
  'postal_address',
  '*.postal_address',
  'number',
  '*.number',
  'plaintext',
  '*.plaintext',
  'cvv',
  '*.cvv',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'pdvault' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ sync: false }),
  );
}

/** What may be logged of an unexpected error: its kind and where it came from, not its data. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error) && !types.isNativeError(error)) return { kind: typeof error };
  const withCode = error as Error & { code?: unknown };
  if (isDatabaseError(error)) {
    // PostgreSQL's messages quote the values they refuse ("invalid input syntax for type …: "…""),
    // and the stack's first line repeats the message: the SQLSTATE and where it arose say enough.
    const { severity, routine, constraint, table, column } = error;
    return { name: error.name, code: withCode.code, severity, routine, constraint, table, column, stack: framesOf(error.stack) };
  }
  return { name: error.name, code: withCode.code, message: error.message, stack: error.stack };
}

export interface DatabaseError extends Error {
  code: string;
  severity: string;
  routine?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

/** An error PostgreSQL reported (pg's DatabaseError): a severity and a five-character SQLSTATE. */
export function isDatabaseError(error: unknown): error is DatabaseError {
  const { code, severity } = (error ?? {}) as Partial<DatabaseError>;
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** A stack without its first line (the error's message): the frames alone. */
function framesOf(stack: string | undefined): string | undefined {
  return stack?.split('\n').filter((line) => line.startsWith('    at ')).join('\n');
}
