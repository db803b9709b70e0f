import cardValidator from 'card-validator';
import { z } from 'zod';
import { VaultError } from '../../errors/vault-error';
import type { CardBrand } from '../../policy/masking/card';
import { invalid, MAX_PROBLEMS, parseInput, pointerOf } from './parse-input';
import { text } from './text-rules';
import { dayBegunEverywhere } from './world-calendar';

/**
 * Names under which callers send a card security code, or the PIN (sensitive authentication
 * data alike), compared in lower case without separators (`securityCode`, `security-code` and
 * `security_code` alike); the vault never accepts or stores one. A name holding one of the
 * abbreviations or phrases (`card_cvv`, `cardSecurityCode`, `sec_code`, `card_pin`) is one too.
 * Every other unknown member is refused as well; this only chooses the answer that says why.
 */
const SECURITY_CODE_NAMES = new Set(['cid', 'spc', 'cardcode', 'pinblock']);
const SECURITY_CODE_PARTS = /cvv|cvc|cvn|cvd|cvk|cv2|cav2|csc|securitycode|securitynumber|seccode|verificationcode|verificationvalue|pin$/;
// The PIN as a word of the name (`pin_num`, `pinValue`, `PIN1`, `pins`), not as the start of another word (`pinned`).
const PIN_WORD = /^(pins?|pincode|pinnumber|pinnum|pinno|pinblock)$/;
const isSecurityCodeName = (key: string) => {
  const name = key.toLowerCase().replace(/[-_.\s]/g, '');
  const words = key.split(/[-_.\s]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])/).map((word) => word.toLowerCase());
  return SECURITY_CODE_NAMES.has(name) || SECURITY_CODE_PARTS.test(name) || words.some((word) => PIN_WORD.test(word));
};

const cardSchema = z.strictObject(
  {
    // A string only: a 19-digit number sent as a JSON number has already lost digits.
    number: z.string({ error: 'number must be a string of digits' }).regex(/^\d{12,19}$/, 'number must be 12 to 19 digits, without spaces'),
    exp_month: z.number({ error: 'exp_month must be a number' }).int('exp_month must be a whole number').min(1, 'exp_month must be 1–12').max(12, 'exp_month must be 1–12'),
    exp_year: z.number({ error: 'exp_year must be a number' }).int('exp_year must be a whole number').min(2000, 'exp_year must be a four-digit year from 2000 to 2100').max(2100, 'exp_year must be a four-digit year from 2000 to 2100'),
    holder_name: text(100, 'holder_name'),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown property' : 'the card must be a JSON object') },
);

export interface CardInput {
  number: string;
  expMonth: number;
  expYear: number;
  holderName: string;
  brand: CardBrand;
  last4: string;
}

// card-validator names networks its own way; the vault speaks the policy's brand vocabulary.
const BRANDS: Readonly<Record<string, CardBrand>> = {
  visa: 'visa',
  mastercard: 'mastercard',
  'american-express': 'amex',
  discover: 'discover',
  'diners-club': 'diners',
  jcb: 'jcb',
  unionpay: 'unionpay',
  maestro: 'maestro',
};

/** The policy's name for a card-validator network; networks it has no name for are `unknown`. */
export const cardBrandOf = (network: string): CardBrand => (Object.hasOwn(BRANDS, network) ? BRANDS[network]! : 'unknown');

export function parseCardInput(body: unknown, now = new Date()): CardInput {
  refuseSecurityCode(body);
  const card = parseInput(cardSchema, body, 'card');
  const checked = cardValidator.number(card.number, { luhnValidateUnionPay: true });
  if (!checked.isValid || !checked.card) {
    throw invalid('card', [{ pointer: '/number', detail: 'number is not a valid card number (check digit or issuer range)' }]);
  }
  const expired = expiredAt(card.exp_month, card.exp_year, now);
  if (expired) throw invalid('card', [{ pointer: expired, detail: 'the card has expired' }]);
  return {
    number: card.number,
    expMonth: card.exp_month,
    expYear: card.exp_year,
    holderName: card.holder_name,
    brand: cardBrandOf(checked.card.type),
    last4: card.number.slice(-4),
  };
}

function refuseSecurityCode(body: unknown): void {
  if (body === null || typeof body !== 'object') return;
  const sent = Object.keys(body).filter(isSecurityCodeName);
  if (sent.length) {
    throw new VaultError('cvv_not_accepted', 422, 'The vault does not accept card security codes', {
      errors: sent.slice(0, MAX_PROBLEMS).map((key) => ({ pointer: pointerOf([key]), detail: 'security codes are never stored; send the card without it' })),
    });
  }
}

/**
 * Where a card's expiry is past, or undefined: the year, or the month of this year. A card is
 * good through the last day of its month where its holder is: it has expired once that month
 * has ended everywhere.
 */
function expiredAt(month: number, year: number, now: Date): '/exp_year' | '/exp_month' | undefined {
  const [thisYear, thisMonth] = dayBegunEverywhere(now).split('-').map(Number) as [number, number];
  if (year < thisYear) return '/exp_year';
  if (year === thisYear && month < thisMonth) return '/exp_month';
  return undefined;
}
