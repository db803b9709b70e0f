import { z } from 'zod';
import { VaultError } from '../errors/vault-error';
import { fieldProblems } from '../vault/input/parse-input';

/**
 * Parses a JSON body against `schema`; every problem is reported with a JSON Pointer. No body
 * is an empty object (a POST whose members are all optional may send none); `null` is a body,
 * and no object.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const input = body === undefined ? {} : body;
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new VaultError('invalid_body', 400, 'The request body is not valid', { errors: fieldProblems(input, parsed.error.issues) });
}
