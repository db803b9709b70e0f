import cardValidator from 'card-validator';

/**
 * Whether text holds a card number: alone, with separators (`4111 1111 1111 1111`,
 * `4111-1111-1111-1111`), after a prefix (`acct4111111111111111`) or beside other numbers
 * (`cust-01-4111-1111-1111-1111`): one or more consecutive digit groups of a stretch of digits
 * and separators (`separators`, the body of a regular expression's character class) that
 * together make a card number of a major network (14 to 16 digits, or 17 to 19 printed in groups
 * of four; its issuer range, a length the network issues, its check digit). Only whole groups,
 * and only those networks and lengths: one number in ten passes the check digit, and ranges as
 * wide as Maestro's or UnionPay's would refuse plain numeric account ids (a 13-digit shop
 * customer id, say) at random.
 */
export function holdsCardNumber(text: string, separators: string): boolean {
  // 17 to 19 digits only as printed: a run that long is as often a plain numeric id (an 18-digit
  // snowflake id), which one in ten would be refused at random.
  return someCardNumber(text, separators, (lengths, digits) => digits <= 16 || isPrintedLayout(lengths));
}

/**
 * Whether free text holds a card number, written in any decimal digits (`٤١١١…`, full-width
 * digits), either in groups split by blanks or dashes of any kind, or as a card is printed
 * (four-digit groups, or Amex's and Diners' 4-6-5 and 4-6-4) split by any of those or by `.`,
 * `/` or `_` (`4111.1111.1111.1111@…`), or by one and the same punctuation or symbol between
 * every group (`4111,1111,1111,1111`, `4111•1111•…`). Groups of other lengths split by
 * punctuation are left alone: numbers side by side in a line (coordinates,
 * `40.732330 -73.960057`) would join into one, and so is a list (`rooms 4101, 4102, 4103,
 * 4104`), whose four-digit numbers make a valid card one run in forty. Characters that display
 * as nothing (joiners, variation selectors, combining marks) are looked through, not taken as
 * separators: `4111\u200D1111…` reads as the card it shows.
 */
export function textHoldsCardNumber(text: string): boolean {
  // Most names, cities and emails hold no number at all: nothing to fold or look through. (Every
  // character that folds to a digit, ① or ⑩ or a full-width 4, is a number already.)
  if (!ANY_NUMBER.test(text)) return false;
  const digits = asciiDigits(text.normalize('NFKC')).replace(MARKS_AND_INVISIBLES, '');
  return holdsCardNumber(digits, TEXT_SEPARATORS) || someCardNumber(digits, PRINTED_SEPARATORS, isPrintedLayout) || somePrintedWithOneSeparator(digits);
}

/** How an id's digit groups are split (`._:-`), as a character class's body. */
export const ID_SEPARATORS = '._:\\-';

/** Blanks and dashes of any kind (a no-break space, the blank braille cell, an en dash), as a character class's body. */
const TEXT_SEPARATORS = '\\p{Zs}\\u2800\\p{Pd}';
const PRINTED_SEPARATORS = `${TEXT_SEPARATORS}./_`;
// What text may hold between digits without being a separator a reader sees: the joiners and
// variation selectors (text-rules.ts lets them through, as scripts and emoji need them) show
// nothing, and a combining mark shows on the digit it follows.
const MARKS_AND_INVISIBLES = /[\p{Default_Ignorable_Code_Point}\p{M}]/gu;

const MAJOR_NETWORKS = new Set(['visa', 'mastercard', 'american-express', 'discover', 'jcb', 'diners-club']);
const MIN_DIGITS = 14;
const MAX_DIGITS = 19;

function someCardNumber(text: string, separators: string, layoutAllowed: (groupLengths: number[], digits: number) => boolean): boolean {
  const { stretches, between } = patternsFor(separators);
  for (const stretch of text.match(stretches) ?? []) {
    const groups = stretch.split(between).filter((group) => group !== '');
    for (let first = 0; first < groups.length; first++) {
      let digits = '';
      for (let last = first; last < groups.length && digits.length < MAX_DIGITS; last++) {
        digits += groups[last];
        if (digits.length >= MIN_DIGITS && digits.length <= MAX_DIGITS && layoutAllowed(groups.slice(first, last + 1).map((group) => group.length), digits.length) && isMajorNetworkCard(digits)) return true;
      }
    }
  }
  return false;
}

const ANY_NUMBER = /\p{N}/u;
const PATTERNS = new Map<string, { stretches: RegExp; between: RegExp }>();

/** Digits and separators in a stretch, and the separators between groups; made once per set of separators. */
function patternsFor(separators: string): { stretches: RegExp; between: RegExp } {
  let patterns = PATTERNS.get(separators);
  if (!patterns) {
    patterns = { stretches: new RegExp(`[0-9][0-9${separators}]*`, 'gu'), between: new RegExp(`[${separators}]+`, 'u') };
    PATTERNS.set(separators, patterns);
  }
  return patterns;
}

// Digit groups each split from the next by one punctuation or symbol character, no blank beside it.
const SINGLY_SEPARATED = /[0-9]+(?:[\p{P}\p{S}][0-9]+)+/gu;
// A printed layout is three groups (4-6-5, 4-6-4), four (4-4-4-4) or five (4-4-4-4-1..3).
const PRINTED_GROUP_COUNTS = [3, 4, 5];

/** A card printed in its groups with the same single separator between every one of them. */
function somePrintedWithOneSeparator(text: string): boolean {
  for (const stretch of text.match(SINGLY_SEPARATED) ?? []) {
    const groups = stretch.split(/[^0-9]/u);
    const separators = [...stretch.replace(/[0-9]+/g, '')];
    for (let first = 0; first < groups.length; first++) {
      for (const count of PRINTED_GROUP_COUNTS) {
        const window = groups.slice(first, first + count);
        if (window.length < count) break;
        const between = separators.slice(first, first + count - 1);
        if (between.some((separator) => separator !== between[0])) continue;
        if (isPrintedLayout(window.map((group) => group.length)) && isMajorNetworkCard(window.join(''))) return true;
      }
    }
  }
  return false;
}

// As cards are printed: 4-4-4-4 (and 4-4-4-4-1..3 for 17 to 19 digits), Amex's 4-6-5, Diners' 4-6-4.
function isPrintedLayout(lengths: number[]): boolean {
  const layout = lengths.join('-');
  return layout === '4-6-5' || layout === '4-6-4' || /^4-4-4-4(-[1-3])?$/.test(layout);
}

function isMajorNetworkCard(digits: string): boolean {
  const checked = cardValidator.number(digits);
  return checked.isValid && checked.card !== null && MAJOR_NETWORKS.has(checked.card.type);
}

/**
 * Every decimal digit as its ASCII digit (`٤` → `4`). Unicode encodes each script's decimal
 * digits as one run of ten code points, zero first, and runs of several scripts' digits lie side
 * by side (the mathematical digits): a digit's value is its distance from the run's start, modulo ten.
 */
function asciiDigits(text: string): string {
  return text.replace(/(?![0-9])\p{Nd}/gu, (digit) => {
    let start = digit.codePointAt(0)!;
    while (DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
    return String((digit.codePointAt(0)! - start) % 10);
  });
}

const DECIMAL_DIGIT = /^\p{Nd}$/u;
