import cardValidator from 'card-validator';

/**
 * Whether text holds a card number: alone, with separators (`4111 1111 1111 1111`,
 * `4111-1111-1111-1111`), after a prefix (`acct4111111111111111`) or beside other numbers
 * (`cust-01-4111-1111-1111-1111`): one or more consecutive digit groups of a stretch of digits
 * and separators (`separators`, the body of a regular expression's character class) that
 * together make a card number of a major network (14 to 16 digits, its issuer range, its check
 * digit). Only whole groups, and only those networks and lengths: one number in ten passes the
 * check digit, and ranges as wide as Maestro's or UnionPay's would refuse plain numeric account
 * ids (a 13-digit shop customer id, say) at random.
 */
export function holdsCardNumber(text: string, separators: string): boolean {
  const stretches = new RegExp(`[0-9][0-9${separators}]*`, 'gu');
  const between = new RegExp(`[${separators}]+`, 'u');
  for (const stretch of text.match(stretches) ?? []) {
    const groups = stretch.split(between).filter((group) => group !== '');
    for (let first = 0; first < groups.length; first++) {
      let digits = '';
      for (let last = first; last < groups.length && digits.length < 19; last++) {
        digits += groups[last];
        if (digits.length >= 14 && digits.length <= 16 && isMajorNetworkCard(digits)) return true;
      }
    }
  }
  return false;
}

/** How an id's digit groups are split (`._:-`), as a character class's body. */
export const ID_SEPARATORS = '._:\\-';

/**
 * How a card number is written in text: groups split by spaces or dashes of any kind (`4111 1111
 * 1111 1111`, a no-break space, an en dash), as a character class's body. Not by `.` or `/`:
 * numbers side by side in a line (coordinates, `40.732330 -73.960057`) would join into one.
 */
export const TEXT_SEPARATORS = '\\p{Zs}\\p{Pd}';

const MAJOR_NETWORKS = new Set(['visa', 'mastercard', 'american-express', 'discover', 'jcb', 'diners-club']);

function isMajorNetworkCard(digits: string): boolean {
  const checked = cardValidator.number(digits);
  return checked.isValid && checked.card !== null && MAJOR_NETWORKS.has(checked.card.type);
}
