export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'diners' | 'jcb' | 'unionpay' | 'maestro' | 'unknown';

export interface MaskedCard {
  brand: CardBrand;
  /** Null when the number is too short to show any of it safely. */
  last4: string | null;
  /** `•••• 4242`, the form shown to people. */
  display: string;
}

const inRange = (digits: string, length: number, low: number, high: number) => {
  const prefix = Number(digits.slice(0, length));
  return digits.length >= length && prefix >= low && prefix <= high;
};

/** The brand from the issuer identification number (the first digits), by the networks' published ranges. */
export function cardBrand(digits: string): CardBrand {
  if (/^4/.test(digits)) return 'visa';
  if (inRange(digits, 2, 51, 55) || inRange(digits, 4, 2221, 2720)) return 'mastercard';
  if (/^3[47]/.test(digits)) return 'amex';
  if (/^(6011|65)/.test(digits) || inRange(digits, 3, 644, 649)) return 'discover';
  if (inRange(digits, 4, 3528, 3589)) return 'jcb';
  if (/^(36|38|39)/.test(digits) || inRange(digits, 3, 300, 305)) return 'diners';
  if (/^62/.test(digits)) return 'unionpay';
  if (/^(50|5[6-8]|6)/.test(digits)) return 'maestro';
  return 'unknown';
}

/**
 * Brand and last four, never more (PCI DSS allows at most the first six and last four; the
 * vault shows less). A number shorter than a real card (12 digits) shows no digits at all,
 * because its last four would be a large part of it.
 */
export function maskCard(number: string): MaskedCard {
  const digits = number.normalize('NFKC').replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(digits)) return { brand: /^\d+$/.test(digits) ? cardBrand(digits) : 'unknown', last4: null, display: '••••' };
  const last4 = digits.slice(-4);
  return { brand: cardBrand(digits), last4, display: `•••• ${last4}` };
}
