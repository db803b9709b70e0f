import { z } from 'zod';
import { VaultError } from '../errors/vault-error';
import { fieldProblems } from '../vault/input/parse-input';

/** Parses a JSON body against `schema`; every problem is reported with a JSON Pointer. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const input = body ?? {};
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new VaultError('invalid_body', 400, 'The request body is not valid', { errors: fieldProblems(input, parsed.error.issues) });
}
