import { z } from 'zod';

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
 * the normalised form, which is what is stored.
 */
export function text(maxLength: number, label: string) {
  return z
    .string({ error: `${label} must be a string` })
    .transform((value) => value.normalize('NFC'))
    .pipe(
      z
        .string()
        .min(1, `${label} must not be empty`)
        .max(maxLength, `${label} must be at most ${maxLength} characters`)
        .refine((value) => !FORBIDDEN_CHARACTERS.test(value), `${label} must not contain control or invisible formatting characters`)
        .refine(isTrimmed, `${label} must not start or end with white space`)
        // An empty string is told it is empty, once.
        .refine((value) => value.length === 0 || isVisible(value), `${label} must contain a visible character and not start with a combining mark`),
    );
}

const isTrimmed = (value: string) => value === value.trim();
const isVisible = (value: string) => !/^\p{M}/u.test(value) && VISIBLE.test(value);

/** Whether `text(maxLength, …)` refuses the (normalised) value: a rule built on it then says nothing more. */
export const breaksTextRules = (value: string, maxLength: number) =>
  value.length === 0 || value.length > maxLength || FORBIDDEN_CHARACTERS.test(value) || !isTrimmed(value) || !isVisible(value);

export const hasForbiddenCharacters = (value: string) => FORBIDDEN_CHARACTERS.test(value);
