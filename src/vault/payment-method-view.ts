import type { CardBrand } from '../policy/masking/card';
import type { FieldLevel } from '../policy/vocabulary';
import type { PaymentMethodRecord } from '../store/payment-methods';

/** A payment method as billing sees it: brand, last four and expiry, never the number. */
export interface MaskedPaymentMethod {
  token: string;
  brand: CardBrand;
  last4: string;
  exp_month: number;
  exp_year: number;
  /** Keyed blind index of the number: equal for the same card, meaningless without the vault's key. */
  fingerprint: string;
}

/** What a purpose that may know a card exists, but not which card, sees of it. */
export interface PaymentMethodReference {
  token: string;
}

/** The card to charge, for the payment processor only. */
export interface RevealedCard {
  token: string;
  brand: CardBrand;
  number: string;
  holder_name: string;
  exp_month: number;
  exp_year: number;
}

/** What is sealed for one payment method; the CVV never is, because the vault never accepts one. */
export interface SealedCardContents {
  number: string;
  holder_name: string;
}

// Half the HMAC is ample to tell cards apart and gives away less of the index than all of it.
const FINGERPRINT_BYTES = 16;

/**
 * The field name a card is sealed under: bound to its token, so a ciphertext copied to another
 * payment method (even one of the same subject) fails to open.
 */
export const cardField = (token: string) => `payment_method:${token}`;

export const fingerprintOf = (record: Pick<PaymentMethodRecord, 'fingerprint'>) => record.fingerprint.subarray(0, FINGERPRINT_BYTES).toString('hex');

export function maskedView(record: PaymentMethodRecord): MaskedPaymentMethod {
  return {
    token: record.token,
    brand: record.brand as CardBrand,
    last4: record.last4,
    exp_month: record.expMonth,
    exp_year: record.expYear,
    fingerprint: fingerprintOf(record),
  };
}

/** A listed payment method at the level the decision allows; listing never shows the number, even to `plain`. */
export function viewAt(record: PaymentMethodRecord, level: FieldLevel): MaskedPaymentMethod | PaymentMethodReference {
  return level === 'token' ? { token: record.token } : maskedView(record);
}
