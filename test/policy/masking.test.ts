import { maskCard, maskEmail, maskPhone, maskPostalAddress } from '../../src/policy/masking';

describe('maskEmail', () => {
  it.each([
    ['jane.doe@example.com', 'j***@example.com'],
    ['j@example.com', '***@example.com'],
    ['jo@example.com', '***@example.com'],
    ['joe@example.com', 'j***@example.com'],
    ['a-very-long-local-part-that-goes-on-and-on+tag@mail.example.co.uk', 'a***@mail.example.co.uk'],
    ['jörg@bücher.de', 'j***@bücher.de'],
    ['ölaf@xn--bcher-kva.de', 'ö***@xn--bcher-kva.de'],
    ['用户名@例子.中国', '用***@例子.中国'],
    ['"john@home"@example.com', 'j***@example.com'],
    ['"a"@example.com', '***@example.com'],
    ['"ab"@example.com', '***@example.com'],
    ['"abc"@example.com', 'a***@example.com'],
    ['.hidden@example.com', '***@example.com'],
  ])('masks %s as %s', (email, masked) => {
    expect(maskEmail(email)).toBe(masked);
  });

  it('never splits a character made of two UTF-16 units', () => {
    expect(maskEmail('𝒥ane@example.com')).toBe('𝒥***@example.com');
  });

  it('hides the length of the local part', () => {
    expect(maskEmail('abc@example.com')).toBe(maskEmail('abcdefghijklmnop@example.com'));
  });

  it.each(['not-an-email', '@example.com', 'jane@', ''])('reveals nothing of a malformed address (%j)', (value) => {
    expect(maskEmail(value)).toBe('***');
  });
});

describe('maskPhone', () => {
  it.each([
    ['+14155551234', '+1 *** *** 1234'],
    ['+1 (415) 555-1234', '+1 *** *** 1234'],
    ['+442071838750', '+44 *** *** 8750'],
    ['0044 20 7183 8750', '+44 *** *** 8750'],
    ['+353 1 234 5678', '+353 *** *** 5678'],
    ['+79161234567', '+7 *** *** 4567'],
    ['+3545511234', '+354 *** *** 234'],
    ['+6831234', '+683 *** *** 34'],
    ['+14155551234 ext. 99', '+1 *** *** 1234'],
    ['(415) 555-1234', '*** *** 1234'],
  ])('masks %s as %s', (phone, masked) => {
    expect(maskPhone(phone)).toBe(masked);
  });

  it('keeps no digit of a stub too short to hide anything', () => {
    expect(maskPhone('+44123')).toBe('+44 *** ***');
    expect(maskPhone('12')).toBe('*** ***');
  });

  it('never keeps more than four digits after the country code', () => {
    const masked = maskPhone('+491701234567890');
    expect(masked.replace(/^\+49/, '').replace(/\D/g, '')).toHaveLength(4);
  });
});

describe('maskPostalAddress', () => {
  const street = { lines: ['10 Downing Street'], locality: 'London' };
  it.each([
    [{ ...street, country: 'gb', postal_code: 'SW1A 2AA' }, { country: 'GB', postal_code_prefix: 'SW1' }],
    [{ country: 'US', postal_code: '94105-1234' }, { country: 'US', postal_code_prefix: '941' }],
    [{ country: 'DE', postal_code: '10115' }, { country: 'DE', postal_code_prefix: '10' }],
    [{ country: 'IS', postal_code: '101' }, { country: 'IS', postal_code_prefix: '1' }],
    [{ country: 'HK', postal_code: null }, { country: 'HK', postal_code_prefix: null }],
    [{ country: 'Narnia', postal_code: 'AB' }, { country: null, postal_code_prefix: 'A' }],
  ])('keeps only the country and the start of the postal code of %j', (address, masked) => {
    expect(maskPostalAddress(address)).toEqual(masked);
  });

  it('never carries a street, number or city', () => {
    expect(JSON.stringify(maskPostalAddress({ ...street, country: 'GB', postal_code: 'SW1A 2AA' }))).not.toMatch(/Downing|London|10 /);
  });
});

describe('maskCard', () => {
  it.each([
    ['4242 4242 4242 4242', 'visa', '4242'],
    ['5555-5555-5555-4444', 'mastercard', '4444'],
    ['2223003122003222', 'mastercard', '3222'],
    ['378282246310005', 'amex', '0005'],
    ['6011111111111117', 'discover', '1117'],
    ['3530111333300000', 'jcb', '0000'],
    ['36227206271667', 'diners', '1667'],
    ['6200000000000005', 'unionpay', '0005'],
    ['9999999999999999', 'unknown', '9999'],
  ])('shows %s as brand %s and last four %s', (number, brand, last4) => {
    expect(maskCard(number)).toEqual({ brand, last4, display: `•••• ${last4}` });
  });

  it('shows no digits of a number too short to be a card', () => {
    expect(maskCard('4242 4242')).toEqual({ brand: 'visa', last4: null, display: '••••' });
    expect(maskCard('not a card')).toEqual({ brand: 'unknown', last4: null, display: '••••' });
  });

  it('never shows more than the last four digits', () => {
    const masked = maskCard('4000 0566 5566 5556');
    expect(masked.last4).toBe('5556');
    expect(masked.display.replace(/\D/g, '')).toBe('5556');
    expect(JSON.stringify(masked)).not.toContain('400005');
  });
});
