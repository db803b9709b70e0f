import { VaultError } from '../errors/vault-error';
import type { SubjectRecord } from '../store/subjects';

/**
 * What an `If-Match` header asks of a write to a subject (RFC 9110 §13.1.1): that the subject
 * exists (`*`), or that it is still at one of the listed versions.
 */
export type IfMatch = { anyVersion: true } | { tags: string[] };

export const etagOf = (record: Pick<SubjectRecord, 'version'>) => `"${record.version}"`;

/**
 * PATCH must name the version it is based on: without If-Match (428), a change would silently
 * undo one it never saw; `*` matches whatever version is current, the same blind write.
 */
export function requiredIfMatch(header: string | undefined): IfMatch {
  if (!header || header.trim() === '*') {
    const detail = header ? 'If-Match: * names no version; send the ETag of the subject the change is based on' : undefined;
    throw new VaultError('precondition_required', 428, 'PATCH needs If-Match with the subject\'s ETag', { detail });
  }
  return parsed(header);
}

/** A write that may be sent unconditionally (an erasure, a consent change) still honours If-Match when sent. */
export function optionalIfMatch(header: string | undefined): IfMatch | undefined {
  return header === undefined ? undefined : parsed(header);
}

/**
 * Checked under the subject's row lock, so of concurrent writers holding one ETag exactly one
 * wins; the others get 412 with the current ETag, and nothing changes.
 */
export function assertIfMatch(condition: IfMatch | undefined, record: Pick<SubjectRecord, 'version'>): void {
  if (!condition || 'anyVersion' in condition || condition.tags.includes(etagOf(record))) return;
  throw new VaultError('precondition_failed', 412, 'The subject has changed since that ETag', {
    headers: { ETag: etagOf(record) },
    // RFC 9110 §13.1.1: If-Match compares strongly, so a weak tag never matches.
    ...(condition.tags.includes(`W/${etagOf(record)}`) ? { detail: 'A weak entity tag (W/…) never matches If-Match; send the ETag as the vault gave it' } : {}),
  });
}

function parsed(header: string): IfMatch {
  if (header.trim() === '*') return { anyVersion: true };
  const tags = listElements(header);
  // An unquoted `3` is a mistake, not a stale tag: 412 would send the caller re-reading a subject that has not changed.
  if (!isEntityTagList(tags)) {
    throw new VaultError('invalid_if_match', 400, 'If-Match lists entity tags in double quotes, as the ETag header gives them, e.g. "3"');
  }
  return { tags };
}

/** RFC 9110 §8.8.3: `#entity-tag`, each `[W/]"…"` with no quote, space or control character inside. */
function isEntityTagList(tags: string[]): boolean {
  return tags.length > 0 && tags.every((tag) => /^(W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/.test(tag));
}

// RFC 9110 §5.6.1.2: a recipient ignores empty list elements (`"3",` or `"3",,"4"`).
const listElements = (header: string): string[] => header.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '');
