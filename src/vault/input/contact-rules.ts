import { domainToASCII, domainToUnicode } from 'node:url';
import countries from 'i18n-iso-countries';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import isEmail from 'validator/lib/isEmail';
import { z } from 'zod';
import { breaksTextRules, text } from './text-rules';

// RFC 5321 §4.5.3.1: 64 octets of local part, 254 of path in practice (256 minus the brackets).
const MAX_LOCAL_OCTETS = 64;
const MAX_ADDRESS_OCTETS = 254;
// RFC 1035 §2.3.4: a label of a domain name.
const MAX_LABEL_OCTETS = 63;

// Default-ignorable characters but the variation selectors, which choose a glyph of the
// character before them (an emoji's colour form, an ideograph's variant): after anything else (a
// letter, a digit) or at the start they only hide. And the blank braille cell.
const INVISIBLE_IN_LOCAL = /(?![\uFE00-\uFE0F\u{E0100}-\u{E01EF}])\p{Default_Ignorable_Code_Point}|(?<![\p{Extended_Pictographic}\p{Ideographic}\p{S}])[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]|\u2800/u;
const OTHER_SPACE = /(?! )\p{Zs}/u;
// The full-width and small commercial at, each of which NFKC folds to `@`.
const LOOKS_LIKE_AT = /[\uFF20\uFE6B]/u;

/**
 * An email address: RFC 5321 lengths counted in octets, syntax checked by validator.js
 * (UTF-8 local parts allowed, a dotted domain with a TLD required), and internationalised
 * domains accepted when they convert to a valid A-label form.
 */
export const email = text(MAX_ADDRESS_OCTETS, 'email').superRefine((value, ctx) => {
  // What text() refused already (empty, too long, white space around it, control characters) is said once.
  if (breaksTextRules(value, MAX_ADDRESS_OCTETS)) return;
  const problem = emailProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

function emailProblem(value: string): string | undefined {
  const at = value.lastIndexOf('@');
  const local = at > 0 ? value.slice(0, at) : '';
  const domain = at > 0 ? value.slice(at + 1) : '';
  if (!local || !domain) return 'email must be an address of the form local@domain';
  if (Buffer.byteLength(local) > MAX_LOCAL_OCTETS) return `email local part must be at most ${MAX_LOCAL_OCTETS} octets`;
  // Text may hold the joiners and variation selectors (scripts and emoji need them); a local part
  // with one displays as another (`jo\u200D@…` as `jo@…`), which a mailer or a support desk
  // would take it for, and its search by the address it shows would not find it. So would one
  // with a space other than ASCII's (which only quotes allow) or a look-alike of `@`
  // (`evil\uFF20bank.com@…`). In the domain, IDNA allows joiners only where a script joins
  // letters and maps the other ignorables away, which the canonical form check below refuses.
  if (INVISIBLE_IN_LOCAL.test(local)) return 'email local part must not contain invisible characters (joiners, a variation selector after a letter or digit, a blank braille cell)';
  if (OTHER_SPACE.test(local)) return 'email local part must not contain spaces other than a quoted ASCII space';
  if (LOOKS_LIKE_AT.test(local)) return 'email local part must not contain a character that reads as @';
  const asciiDomain = domainToASCII(domain);
  if (Buffer.byteLength(`${local}@${asciiDomain}`) > MAX_ADDRESS_OCTETS) return `email must be at most ${MAX_ADDRESS_OCTETS} octets`;
  // IDNA maps the blank braille cell to itself: a domain holding one looks like another.
  if (!asciiDomain || domain.includes('\u2800')) return 'email domain is not a valid domain name';
  if (asciiDomain.split('.').some((label) => label.length > MAX_LABEL_OCTETS)) return `email domain labels must be at most ${MAX_LABEL_OCTETS} octets (an internationalised label counted in its xn-- form)`;
  if (!isCanonicalDomain(domain, asciiDomain)) return 'email domain must be written as it resolves (no percent-escapes, invisible characters or full-width dots)';
  if (!isEmail(`${local}@${asciiDomain}`, { allow_utf8_local_part: true, require_tld: true, allow_ip_domain: false })) return 'email is not a valid address';
  return undefined;
}

/**
 * Whether the domain, as sent, is already one of its canonical forms (U-labels or A-labels,
 * in any case). IDNA mapping accepts `ex%41mple.com`, `ex\u200Bample.com` or `example\uFF0Ecom`
 * as `example.com`: validated and indexed as that, such an address would be stored and handed to
 * the mailer as something else.
 */
function isCanonicalDomain(domain: string, asciiDomain: string): boolean {
  const lower = domain.toLowerCase();
  return lower === asciiDomain || lower === domainToUnicode(asciiDomain);
}

/** A phone number in E.164 (`+` country code and number), valid for its country per libphonenumber. */
export const phone = z.string({ error: 'phone must be a string' }).superRefine((value, ctx) => {
  const parsed = /^\+[1-9]\d{6,14}$/.test(value) ? parsePhoneNumberFromString(value) : undefined;
  if (!parsed || !parsed.isValid() || parsed.number !== value) {
    ctx.addIssue({ code: 'custom', message: 'phone must be a valid number in E.164 form, e.g. +14155550123' });
  }
});

/** ISO 3166-1 alpha-2, upper case. */
export const countryCode = z
  .string({ error: 'country must be a string' })
  .refine((value) => /^[A-Z]{2}$/.test(value) && countries.isValid(value), 'country must be an ISO 3166-1 alpha-2 code, e.g. DE');

export const postalAddress = z.strictObject(
  {
    line1: text(200, 'line1'),
    line2: text(200, 'line2').optional(),
    city: text(100, 'city'),
    region: text(100, 'region').optional(),
    // Stored in its compatibility form (full-width １２３４５ as 12345), the form its masked prefix
    // shows; checked in that form, so its limits hold for what is stored.
    postal_code: z
      .string({ error: 'postal_code must be a string' })
      .transform((value) => value.normalize('NFKC'))
      .pipe(text(20, 'postal_code'))
      .optional(),
    country: countryCode,
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown property' : 'postal_address must be an object') },
);

export type PostalAddress = z.output<typeof postalAddress>;
