import { z } from 'zod';
import { VaultError } from '../errors/vault-error';

/** Parses a JSON body against `schema`; every problem is reported with a JSON Pointer. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  throw new VaultError('invalid_body', 400, 'The request body is not valid', {
    errors: parsed.error.issues.map((issue) => ({
      pointer: '/' + issue.path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/'),
      detail: issue.message,
    })),
  });
}
