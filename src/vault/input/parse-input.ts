import type { z } from 'zod';
import { VaultError, type FieldProblem } from '../../errors/vault-error';

const escape = (key: PropertyKey) => String(key).replace(/~/g, '~0').replace(/\//g, '~1');
const pointerOf = (path: readonly PropertyKey[]) => (path.length ? '/' + path.map(escape).join('/') : '/');

/**
 * Validates a request document against a schema; on failure, one 422 `validation_failed`
 * naming every offending field by JSON Pointer. Unknown properties are named one by one.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldProblem[] = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ pointer: pointerOf([...issue.path, key]), detail: 'unknown property' }))
      : [{ pointer: pointerOf(issue.path), detail: issue.message }],
  );
  throw invalid(what, errors);
}

export function invalid(what: string, errors: FieldProblem[]): VaultError {
  return new VaultError('validation_failed', 422, `The ${what} is not valid`, { errors: errors.slice(0, 50) });
}
