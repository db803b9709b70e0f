import { VaultError } from '../../src/errors/vault-error';
import { parseCardInput } from '../../src/vault/input/card-input';

const now = new Date('2026-11-30T12:00:00Z');
const valid = { number: '4111111111111111', exp_month: 12, exp_year: 2030, holder_name: 'Jo Example' };

function refusal(body: unknown): VaultError {
  try {
    parseCardInput(body, now);
  } catch (error) {
    if (error instanceof VaultError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('card input', () => {
  it.each([
    ['4111111111111111', 'visa'],
    ['5555555555554444', 'mastercard'],
    ['378282246310005', 'amex'],
    ['30569309025904', 'diners'],
    ['6011111111111117', 'discover'],
    ['3530111333300000', 'jcb'],
  ])('accepts %s as %s and keeps only its last four for display', (number, brand) => {
    const card = parseCardInput({ ...valid, number }, now);
    expect(card.brand).toBe(brand);
    expect(card.last4).toBe(number.slice(-4));
  });

  it('refuses a number that fails the Luhn check', () => {
    expect(refusal({ ...valid, number: '4111111111111112' }).errors).toEqual([{ pointer: '/number', detail: expect.stringContaining('check digit') }]);
  });

  it('refuses a 19-digit number sent as a JSON number instead of rounding it', () => {
    const body = JSON.parse('{"number": 6011000990139424123, "exp_month": 12, "exp_year": 2030, "holder_name": "x"}');
    expect(refusal(body).errors?.[0]?.pointer).toBe('/number');
  });

  it.each(['4111 1111 1111 1111', '4111-1111-1111-1111', '41111', ''])('refuses the malformed number %p', (number) => {
    expect(refusal({ ...valid, number }).errors?.[0]?.pointer).toBe('/number');
  });

  it('refuses an expired card and accepts one expiring this month', () => {
    expect(refusal({ ...valid, exp_month: 10, exp_year: 2026 }).errors?.[0]?.detail).toBe('the card has expired');
    expect(parseCardInput({ ...valid, exp_month: 11, exp_year: 2026 }, now).expMonth).toBe(11);
  });

  it('points at the month when a card of this year has expired, and at the year when an earlier year has', () => {
    expect(refusal({ ...valid, exp_month: 10, exp_year: 2026 }).errors).toEqual([{ pointer: '/exp_month', detail: 'the card has expired' }]);
    expect(refusal({ ...valid, exp_month: 12, exp_year: 2025 }).errors).toEqual([{ pointer: '/exp_year', detail: 'the card has expired' }]);
  });

  // The card is good through its month where its holder is: in California, on the evening of its last day.
  it('takes a card whose month has not yet ended everywhere (UTC−12), and refuses it once it has', () => {
    const card = { ...valid, exp_month: 11, exp_year: 2026 };
    expect(parseCardInput(card, new Date('2026-12-01T05:00:00Z')).expMonth).toBe(11);
    expect(parseCardInput(card, new Date('2026-12-01T11:59:59Z')).expMonth).toBe(11);
    expect(() => parseCardInput(card, new Date('2026-12-01T12:00:00Z'))).toThrow(VaultError);
    expect(parseCardInput({ ...valid, exp_month: 12, exp_year: 2026 }, new Date('2027-01-01T06:00:00Z')).expYear).toBe(2026);
  });

  it.each(['cvv', 'CVC', 'security_code', 'securityCode', 'security-code', 'cvn', 'cvd', 'card_cvv', 'cvv_code', 'CVV2', 'cid', 'card_verification_value', 'verificationValue', 'pin', 'PIN', 'card_security_code', 'cardSecurityCode', 'security_number', 'secCode', 'sec_code', 'cv2', 'card_pin', 'pin_code', 'pinCode', 'spc', 'pin_num', 'PIN_NUM', 'pin1', 'pins', 'pinValue', 'pin_hash', 'PINCode', 'cardPIN'])('refuses a card carrying a security code under %s without echoing it', (key) => {
    const error = refusal({ ...valid, [key]: '987' });
    expect(error.code).toBe('cvv_not_accepted');
    expect(JSON.stringify(error.errors)).not.toContain('987');
  });

  it.each(['pinned', 'pinyin_name'])('refuses %s as an unknown property, not as a security code it only begins like', (key) => {
    const error = refusal({ ...valid, [key]: true });
    expect(error.code).toBe('validation_failed');
    expect(error.errors).toEqual([{ pointer: `/${key}`, detail: 'unknown property' }]);
  });

  it('refuses a card number as the holder name, which masked views show', () => {
    expect(refusal({ ...valid, holder_name: '5555555555554444' }).errors?.[0]).toEqual({ pointer: '/holder_name', detail: expect.stringMatching(/must not hold a card number/) });
  });

  it('names a security code member by an escaped pointer, and lists at most fifty of them', () => {
    expect(refusal({ ...valid, 'card/cvv': '987' }).errors).toEqual([{ pointer: '/card~1cvv', detail: expect.any(String) }]);
    const many = Object.fromEntries(Array.from({ length: 4500 }, (_, i) => [`cvv${i}`, 1]));
    expect(refusal({ ...valid, ...many }).errors).toHaveLength(50);
  });

  it.each([
    [{ ...valid, exp_month: 13 }, '/exp_month'],
    [{ ...valid, exp_month: '12' }, '/exp_month'],
    [{ ...valid, exp_year: 30 }, '/exp_year'],
    [{ ...valid, holder_name: undefined }, '/holder_name'],
    [{ ...valid, brand: 'visa' }, '/brand'],
  ])('refuses %p at its field', (body, pointer) => {
    expect(refusal(body).errors?.map((e) => e.pointer)).toContain(pointer);
  });

  it('says a member left out is required, and names the years it takes', () => {
    const { holder_name: _left, ...withoutHolder } = valid;
    expect(refusal(withoutHolder).errors).toEqual([{ pointer: '/holder_name', detail: 'holder_name is required' }]);
    expect(refusal({ ...valid, holder_name: 7 }).errors).toEqual([{ pointer: '/holder_name', detail: 'holder_name must be a string' }]);
    expect(refusal({ ...valid, exp_year: 2101 }).errors?.[0]?.detail).toBe('exp_year must be a four-digit year from 2000 to 2100');
  });
});
