import { z } from 'zod';

// C0/C1 controls, and the bidirectional overrides that make a string display differently
// from what it is (a name that reads as someone else's in a support tool).
const FORBIDDEN_CHARACTERS = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/**
 * A bounded, printable, NFC-normalised string. Leading or trailing white space is refused
 * rather than trimmed, so what the caller sent is what is stored.
 */
export function text(maxLength: number, label: string) {
  return z
    .string({ error: `${label} must be a string` })
    .min(1, `${label} must not be empty`)
    .max(maxLength, `${label} must be at most ${maxLength} characters`)
    .refine((value) => !FORBIDDEN_CHARACTERS.test(value), `${label} must not contain control characters`)
    .refine((value) => value === value.trim(), `${label} must not start or end with white space`)
    .transform((value) => value.normalize('NFC'));
}

export const hasForbiddenCharacters = (value: string) => FORBIDDEN_CHARACTERS.test(value);
