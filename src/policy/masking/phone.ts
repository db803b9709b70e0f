/**
 * Two-digit ITU calling codes; the codes 1 and 7 have one digit and every other code has three.
 * (ITU-T E.164 assigns codes so that no code is a prefix of another.)
 */
const TWO_DIGIT_CODES = new Set([
  '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66',
  '81', '82', '84', '86', '90', '91', '92', '93', '94', '95', '98',
]);

function callingCode(digits: string): string {
  if (digits.startsWith('1') || digits.startsWith('7')) return digits[0]!;
  if (TWO_DIGIT_CODES.has(digits.slice(0, 2))) return digits.slice(0, 2);
  return digits.slice(0, 3);
}

/** How many trailing digits stay: 4 of a full-length number, fewer of a short one, none of a stub. */
function digitsKept(nationalLength: number): number {
  if (nationalLength >= 8) return 4;
  if (nationalLength >= 6) return 3;
  if (nationalLength >= 4) return 2;
  return 0;
}

/**
 * `+14155551234` → `+1 *** *** 1234`: the country calling code and the last 2–4 digits, with a
 * fixed run of stars so the length is not revealed. A number not in international form has no
 * known country code: only its last digits are kept. Extensions are dropped.
 */
export function maskPhone(phone: string): string {
  const withoutExtension = phone.normalize('NFKC').split(/(?:;ext=|ext\.?|x|#)/i)[0]!;
  const international = /^\s*(\+|00)/.test(withoutExtension);
  let digits = withoutExtension.replace(/\D/g, '');
  if (international && withoutExtension.trim().startsWith('00')) digits = digits.slice(2);
  const code = international ? callingCode(digits) : '';
  const national = digits.slice(code.length);
  const kept = digitsKept(national.length);
  const tail = kept > 0 ? ' ' + national.slice(-kept) : '';
  return `${code ? `+${code} ` : ''}*** ***${tail}`;
}
