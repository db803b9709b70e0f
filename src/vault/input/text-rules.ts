import { z } from 'zod';

// C0/C1 controls; the bidirectional overrides, isolates and marks that make a string display
// differently from what it is (a name that reads as someone else's in a support tool); and
// invisible characters that make two strings look identical (zero-width space, word joiner,
// soft hyphen, BOM, tag characters). The zero-width joiner and non-joiner stay: scripts and
// emoji need them.
const FORBIDDEN_CHARACTERS = /[\p{Cc}\u00AD\u061C\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF\u{E0000}-\u{E007F}]/u;

/**
 * A bounded, printable, NFC-normalised string. Leading or trailing white space is refused
 * rather than trimmed, so what the caller sent is what is stored.
 */
export function text(maxLength: number, label: string) {
  return z
    .string({ error: `${label} must be a string` })
    .min(1, `${label} must not be empty`)
    .max(maxLength, `${label} must be at most ${maxLength} characters`)
    .refine((value) => !FORBIDDEN_CHARACTERS.test(value), `${label} must not contain control or invisible formatting characters`)
    .refine((value) => value === value.trim(), `${label} must not start or end with white space`)
    .transform((value) => value.normalize('NFC'));
}

export const hasForbiddenCharacters = (value: string) => FORBIDDEN_CHARACTERS.test(value);
