import { z } from 'zod';
import { textHoldsCardNumber } from './card-numbers';

// C0/C1 controls; every format character (Cf: the bidirectional overrides, isolates and marks
// that make a string display as something else, zero-width space, word joiner, soft hyphen,
// BOM, Arabic number signs) but the zero-width joiner and non-joiner, which scripts and emoji
// need; the whole tag block, assigned or not; the line and paragraph separators, which break a
// line in a log or a support tool; the Hangul fillers, letters made to be invisible; and the
// noncharacters, which are not text at all.
const FORBIDDEN_CHARACTERS = /[\p{Cc}\p{Zl}\p{Zp}\p{Noncharacter_Code_Point}\u115F\u1160\u3164\uFFA0\u{E0000}-\u{E007F}]|(?![\u200C\u200D])\p{Cf}/u;

// What a reader sees: a letter, digit, punctuation or symbol (the blank braille cell is none).
const VISIBLE = /(?!\u2800)[\p{L}\p{N}\p{P}\p{S}]/u;

/**
 * A bounded, printable, NFC-normalised string. Leading or trailing white space is refused
 * rather than trimmed, so what the caller sent is what is stored; the length limit holds for
 * the normalised form, which is what is stored. Of the rules it breaks, the first is said.
 */
export function text(maxLength: number, label: string) {
  return z
    .string({ error: `${label} must be a string` })
    .transform((value) => value.normalize('NFC'))
    .superRefine((value, ctx) => {
      const problem = textProblem(value, maxLength);
      if (problem) ctx.addIssue({ code: 'custom', message: `${label} ${problem}` });
    });
}

function textProblem(value: string, maxLength: number): string | undefined {
  if (value.length === 0) return 'must not be empty';
  // Characters as openapi.yaml's maxLength counts them (code points): an emoji is one, not two UTF-16 units.
  if (value.length > maxLength && codePoints(value) > maxLength) return `must be at most ${maxLength} characters`;
  if (FORBIDDEN_CHARACTERS.test(value)) return 'must not contain control or invisible formatting characters';
  if (value !== value.trim()) return 'must not start or end with white space';
  if (/^\p{M}/u.test(value) || !VISIBLE.test(value)) return 'must contain a visible character and not start with a combining mark';
  // A card is kept only as a payment method, sealed apart and revealed to payment processing
  // alone; one written into a name or an address line would be shown wherever those are.
  if (textHoldsCardNumber(value)) return 'must not hold a card number (add a card as a payment method)';
  return undefined;
}

function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

/** Whether `text(maxLength, …)` refuses the (normalised) value: a rule built on it then says nothing more. */
export const breaksTextRules = (value: string, maxLength: number) => textProblem(value, maxLength) !== undefined;

export const hasForbiddenCharacters = (value: string) => FORBIDDEN_CHARACTERS.test(value);
