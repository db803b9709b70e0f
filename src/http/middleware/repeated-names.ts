import { visit } from 'jsonc-parser';
import { escapePointer } from './input-hygiene';

/** What a walk over a JSON text found. */
export type NameWalk =
  | { outcome: 'unique' }
  /** The JSON Pointer of the first member name that appears twice in one object. */
  | { outcome: 'repeated'; pointer: string }
  /** A container nested deeper than the limit: the walk stopped there. */
  | { outcome: 'too_deep' }
  /** Not strict JSON as jsonc-parser reads it. */
  | { outcome: 'unreadable' };

// Thrown from inside the walk: jsonc-parser descends by recursion and offers no other way to stop.
class NestedTooDeep extends Error {}

/**
 * Walks `text` for a member name that appears twice in one object. JSON.parse keeps the last of
 * a repeated name without a word; a filter in front of the vault may act on the first, so such
 * a document means two things (RFC 8259 §4, and I-JSON, RFC 7493 §2.3, which forbids it).
 *
 * jsonc-parser hands over each name already unescaped, so `"\u0065mail"` and `"email"` are
 * recognised as the same name. A container deeper than `maxDepth` (the root at depth 0) ends the
 * walk before the recursion can exhaust the stack. Text the walk cannot read is reported, never
 * passed as unique: the caller decides what a body that JSON.parse reads but the walk does not means.
 */
export function walkNames(text: string, maxDepth: number): NameWalk {
  // body-parser reads an empty body as {}: it names nothing.
  if (text === '') return { outcome: 'unique' };
  // One entry per open container: the names seen so far in an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let repeated: string | undefined;
  let malformed = false;
  const enter = (names: Set<string> | null) => {
    open.push(names);
    if (open.length - 1 > maxDepth) throw new NestedTooDeep();
  };
  try {
    visit(
      text,
      {
        onObjectBegin: () => enter(new Set()),
        onArrayBegin: () => enter(null),
        onObjectEnd: () => void open.pop(),
        onArrayEnd: () => void open.pop(),
        onObjectProperty: (name, _offset, _length, _line, _column, pathOf) => {
          const names = open[open.length - 1];
          if (!names || repeated !== undefined) return;
          if (names.has(name)) repeated = [...pathOf(), name].map((part) => `/${escapePointer(String(part))}`).join('');
          names.add(name);
        },
        onError: () => {
          malformed = true;
        },
      },
      { disallowComments: true, allowTrailingComma: false },
    );
  } catch (error) {
    if (error instanceof NestedTooDeep) return { outcome: 'too_deep' };
    return { outcome: 'unreadable' };
  }
  if (malformed) return { outcome: 'unreadable' };
  return repeated === undefined ? { outcome: 'unique' } : { outcome: 'repeated', pointer: repeated };
}
