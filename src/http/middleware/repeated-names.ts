import { visit } from 'jsonc-parser';
import { escapePointer } from './input-hygiene';

/**
 * The JSON Pointer of the first member name that appears twice in one object of `text`, if any.
 * JSON.parse keeps the last of a repeated name without a word; a filter in front of the vault
 * may act on the first, so such a document means two things (RFC 8259 §4, and I-JSON, RFC 7493
 * §2.3, which forbids it). Text that is not strict JSON is left for the parser to refuse.
 *
 * jsonc-parser walks the text and hands over each name already unescaped, so `"\u0065mail"`
 * and `"email"` are recognised as the same name.
 */
export function firstRepeatedName(text: string): string | undefined {
  // One entry per open container: the names seen so far in an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let repeated: string | undefined;
  let malformed = false;
  visit(
    text,
    {
      onObjectBegin: () => void open.push(new Set()),
      onArrayBegin: () => void open.push(null),
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
  return malformed ? undefined : repeated;
}
