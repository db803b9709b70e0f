import type { z } from 'zod';
import { VaultError, type FieldProblem } from '../../errors/vault-error';

/** Most field problems one answer lists: a body naming thousands of unknown members gets a bounded answer. */
export const MAX_PROBLEMS = 50;

const escape = (key: PropertyKey) => String(key).replace(/~/g, '~0').replace(/\//g, '~1');
// RFC 6901: the whole document is the empty pointer (`/` names a member called "").
export const pointerOf = (path: readonly PropertyKey[]) => path.map((key) => `/${escape(key)}`).join('');

/**
 * Validates a request document against a schema; on failure, one 422 `validation_failed`
 * naming every offending field by JSON Pointer. Unknown properties are named one by one.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalid(what, fieldProblems(input, result.error.issues));
}

/**
 * Each issue as a field problem, at most MAX_PROBLEMS of them: by JSON Pointer, unknown
 * properties one by one, a member left out as required.
 */
export function fieldProblems(input: unknown, issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  return issues
    .flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ pointer: pointerOf([...issue.path, key]), detail: 'unknown property' }))
        : [{ pointer: pointerOf(issue.path), detail: detailOf(input, issue) }],
    )
    .slice(0, MAX_PROBLEMS);
}

// A schema that says itself what a missing member needs ("… is required for kind subject") keeps its words.
const detailOf = (input: unknown, issue: z.core.$ZodIssue) =>
  isMissing(input, issue) && !issue.message.includes('required') ? `${String(issue.path.at(-1))} is required` : issue.message;

/** A member the schema requires and the object leaves out: "is required" tells the caller more than "must be a string". */
function isMissing(input: unknown, issue: z.core.$ZodIssue): boolean {
  if (issue.code !== 'invalid_type' || issue.path.length === 0) return false;
  let parent = input;
  for (const key of issue.path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object' || !Object.hasOwn(parent, key)) return false;
    parent = (parent as Record<PropertyKey, unknown>)[key];
  }
  return parent !== null && typeof parent === 'object' && !Array.isArray(parent) && !Object.hasOwn(parent, issue.path.at(-1)!);
}

export function invalid(what: string, errors: FieldProblem[]): VaultError {
  return new VaultError('validation_failed', 422, `The ${what} is not valid`, { errors });
}
