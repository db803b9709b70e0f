import { VaultError } from '../../src/errors/vault-error';
import { RECORD_FIELDS } from '../../src/policy/vocabulary';
import { ageInYears, isUnderMinimumAge, parseSubjectInput, parseSubjectPatch, PERSONAL_FIELDS } from '../../src/vault/input/subject-input';
import { dayBegunSomewhere } from '../../src/vault/input/world-calendar';

function refusal(action: () => unknown): VaultError {
  try {
    action();
  } catch (error) {
    if (error instanceof VaultError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/**
 * The day `days` after today, as the calendar stands `offsetHours` from UTC, `years` earlier: a
 * 29 February with no such day that year is the 28th (a birthday the subject has had).
 */
const yearsAgo = (years: number, days = 0, offsetHours = 0) => {
  const d = new Date(Date.now() + offsetHours * 3_600_000);
  d.setUTCDate(d.getUTCDate() + days);
  const [year, month, day] = d.toISOString().slice(0, 10).split('-') as [string, string, string];
  const earlier = `${String(Number(year) - years).padStart(4, '0')}-${month}-${day}`;
  return new Date(`${earlier}T00:00:00Z`).toISOString().startsWith(earlier) ? earlier : earlier.replace(/-29$/, '-28');
};
// The last time zone to reach a day, where a 13th birthday counts.
const LAST_ZONE = -12;

describe('subject input', () => {
  it('accepts a complete subject and normalises strings to NFC', () => {
    const subject = parseSubjectInput({
      external_id: 'acct-42',
      email: 'jo@example.com',
      name: 'Zoe\u0308 Example',
      phone: '+442071838750',
      postal_address: { line1: '1 Main St', city: 'London', postal_code: 'SW1A 1AA', country: 'GB' },
      birth_date: '1990-02-28',
      preferences: { newsletter: false, share_with_partners: true },
    });
    expect(subject.name).toBe('Zoë Example');
    expect(subject.preferences).toEqual({ newsletter: false, share_with_partners: true });
  });

  it.each([
    ['jöhn@bücher.example', true],
    ['user@xn--bcher-kva.example', true],
    ['üser@例え.jp', true],
    ['plain@example', false],
    ['no-at-sign.example.com', false],
    ['two@@example.com', false],
    [`${'a'.repeat(65)}@example.com`, false],
    [`a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(60)}.com`, false],
    ['a@[127.0.0.1]', false],
    [' padded@example.com', false],
    ['Mixed@Example.COM', true],
    ['straße@straße.de', true],
    // IDNA would map each of these to example.com: stored as sent, the mailer would get another address than the one validated and indexed.
    ['user@ex%41mple.com', false],
    ['user@ex\u200Bample.com', false],
    ['user@example\uFF0Ecom', false],
    ['user@example\u3002com', false],
    ['user@EXAMPLE\uFF0ECOM', false],
  ])('email %s accepted: %s', (value, ok) => {
    if (ok) expect(parseSubjectInput({ email: value }).email).toBe(value.normalize('NFC'));
    else expect(refusal(() => parseSubjectInput({ email: value })).errors?.[0]?.pointer).toBe('/email');
  });

  it.each(['+14155550123', '+442071838750', '+4915123456789'])('accepts the E.164 phone %s', (value) => {
    expect(parseSubjectInput({ phone: value }).phone).toBe(value);
  });

  it.each(['4155550123', '+1 415 555 0123', '+1415555012', '+999123456789', '+0123456789', 'call me'])('refuses the phone %s', (value) => {
    const error = refusal(() => parseSubjectInput({ phone: value }));
    expect(error.code).toBe('validation_failed');
    expect(error.errors).toEqual([{ pointer: '/phone', detail: expect.stringContaining('E.164') }]);
  });

  // Kosovo has no code of ISO's own; XK, user-assigned, is the one in use (the EU, banks, phone numbering).
  it('takes XK for Kosovo', () => {
    expect(parseSubjectInput({ postal_address: { line1: 'Rr. Nëna Terezë 1', city: 'Prishtinë', country: 'XK' } }).postal_address?.country).toBe('XK');
  });

  it.each(['de', 'XX', 'GBR', 'UK', 'EU', 'SU', 'YU'])('refuses the country code %s', (country) => {
    const error = refusal(() => parseSubjectInput({ postal_address: { line1: 'x', city: 'y', country } }));
    expect(error.errors?.[0]?.pointer).toBe('/postal_address/country');
  });

  it('refuses a subject under 13 with subject_under_minimum_age', () => {
    const error = refusal(() => parseSubjectInput({ birth_date: yearsAgo(13, 1) }));
    expect(error.code).toBe('subject_under_minimum_age');
    expect(error.status).toBe(422);
  });

  it('accepts a subject on their 13th birthday, once that day has begun everywhere', () => {
    expect(parseSubjectInput({ birth_date: yearsAgo(13, 0, LAST_ZONE) }).birth_date).toBe(yearsAgo(13, 0, LAST_ZONE));
  });

  // A birth date is a day in the subject's own zone, which the vault does not know.
  it('counts a 13th birthday from when it begins in the last time zone (UTC−12), not in UTC', () => {
    expect(isUnderMinimumAge('2013-12-02', new Date('2026-12-02T00:30:00Z'))).toBe(true);
    expect(isUnderMinimumAge('2013-12-02', new Date('2026-12-02T11:59:59Z'))).toBe(true);
    expect(isUnderMinimumAge('2013-12-02', new Date('2026-12-02T12:00:00Z'))).toBe(false);
    expect(isUnderMinimumAge('2012-02-29', new Date('2025-03-01T12:00:00Z'))).toBe(false);
    expect(isUnderMinimumAge('2012-02-29', new Date('2025-03-01T11:00:00Z'))).toBe(true);
  });

  it('takes as no future date the day already begun in the first time zone (UTC+14), a child born there today', () => {
    expect(dayBegunSomewhere(new Date('2026-12-02T09:59:59Z'))).toBe('2026-12-02');
    expect(dayBegunSomewhere(new Date('2026-12-02T10:00:00Z'))).toBe('2026-12-03');
    // Not in the future, so refused for the subject's age.
    expect(refusal(() => parseSubjectInput({ birth_date: dayBegunSomewhere(new Date()) })).code).toBe('subject_under_minimum_age');
  });

  it.each([
    ['a day no time zone has reached', yearsAgo(0, 2, 14), 'must not be in the future'],
    ['a day the calendar does not have', '1990-02-30', 'a day the calendar does not have'],
    ['a timestamp', '1990-01-01T00:00:00Z', 'YYYY-MM-DD'],
  ])('refuses a birth date that is %s', (_label, value, message) => {
    expect(refusal(() => parseSubjectInput({ birth_date: value })).errors?.[0]?.detail).toContain(message);
  });

  it('counts age in whole years, birthdays included', () => {
    expect(ageInYears('2000-03-01', '2013-02-28')).toBe(12);
    expect(ageInYears('2000-03-01', '2013-03-01')).toBe(13);
  });

  it('names every unknown property by pointer', () => {
    const error = refusal(() => parseSubjectInput({ email: 'a@example.com', nickname: 'x', postal_address: { line1: 'a', city: 'b', country: 'DE', floor: 3 } }));
    expect(error.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/nickname', detail: 'unknown property' },
        { pointer: '/postal_address/floor', detail: 'unknown property' },
      ]),
    );
  });

  it('refuses read-only properties as mass assignment', () => {
    const error = refusal(() => parseSubjectInput({ id: 'sub_x', version: 9, pseudonym: 'psn_x', email: 'a@example.com' }));
    expect(error.code).toBe('read_only_property');
    expect(error.errors?.map((e) => e.pointer)).toEqual(['/id', '/pseudonym', '/version']);
  });

  it.each([
    ['a number for a string', { name: 42 }, '/name'],
    ['an array for an object', { postal_address: [] }, '/postal_address'],
    ['a string for a boolean', { preferences: { newsletter: 'yes' } }, '/preferences/newsletter'],
    ['a control character', { name: 'a\u0007b' }, '/name'],
    ['a bidi override', { name: 'abc\u202Egpj.exe' }, '/name'],
    ['a right-to-left mark', { name: 'Jo\u200FExample' }, '/name'],
    ['an Arabic letter mark', { name: 'Jo\u061CExample' }, '/name'],
    ['a zero-width space', { name: 'Jo\u200BExample' }, '/name'],
    ['a byte order mark', { name: '\uFEFFJo' }, '/name'],
    ['a soft hyphen', { name: 'Jo\u00ADExample' }, '/name'],
    ['a word joiner', { postal_address: { line1: '1\u2060Main St', city: 'c', country: 'DE' } }, '/postal_address/line1'],
    ['a tag character', { name: 'Jo\u{E0041}' }, '/name'],
    ['a line break in an address line', { postal_address: { line1: 'a\nb', city: 'c', country: 'DE' } }, '/postal_address/line1'],
    ['a line separator', { name: 'Jo\u2028Admin' }, '/name'],
    ['a paragraph separator', { name: 'Jo\u2029Admin' }, '/name'],
    ['an inhibit-symmetric-swapping format character', { name: 'a\u206Ab' }, '/name'],
    ['an interlinear annotation anchor', { name: 'a\uFFF9b' }, '/name'],
    ['a musical format character', { name: 'a\u{1D173}b' }, '/name'],
    ['a noncharacter', { name: 'Jo\uFFFE' }, '/name'],
    ['a Hangul filler, a letter made invisible', { name: '\u3164' }, '/name'],
    ['a name of one blank braille cell', { name: '\u2800' }, '/name'],
    ['a lone zero-width joiner', { name: '\u200D' }, '/name'],
    ['a name starting with a combining mark', { name: '\u0301Jo' }, '/name'],
    ['a name whose normal form is longer than the limit', { name: '\u0958'.repeat(200) }, '/name'],
    ['an overlong name', { name: 'x'.repeat(201) }, '/name'],
    ['an empty name', { name: '' }, '/name'],
  ])('refuses %s with a pointer to the field', (_label, body, pointer) => {
    const error = refusal(() => parseSubjectInput(body));
    expect(error.code).toBe('validation_failed');
    expect(error.errors?.[0]?.pointer).toBe(pointer);
  });

  it.each(['\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645', 'Family \u{1F468}\u200D\u{1F469}\u200D\u{1F467}'])('keeps the joiners scripts and emoji need: %s', (name) => {
    expect(parseSubjectInput({ name }).name).toBe(name.normalize('NFC'));
  });

  it('limits a name by its normal form, the one stored: 150 decomposed letters are 150 characters', () => {
    expect(parseSubjectInput({ name: 'e\u0301'.repeat(150) }).name).toBe('\u00E9'.repeat(150));
  });

  it('counts characters as openapi.yaml\'s maxLength does, by code point: 200 emoji are a name, 201 are too long', () => {
    expect(parseSubjectInput({ name: '\u{1F600}'.repeat(200) }).name).toBe('\u{1F600}'.repeat(200));
    expect(refusal(() => parseSubjectInput({ name: '\u{1F600}'.repeat(201) })).errors).toEqual([{ pointer: '/name', detail: 'name must be at most 200 characters' }]);
  });

  it.each([[null], [[]], ['text'], [7]])('refuses a body that is not an object: %p', (body) => {
    expect(refusal(() => parseSubjectInput(body)).code).toBe('validation_failed');
  });
});

describe('subject patch', () => {
  it('treats null as removing a field (JSON merge patch)', () => {
    expect(parseSubjectPatch({ phone: null, name: 'New Name' })).toEqual({ phone: null, name: 'New Name' });
  });

  it('refuses an external_id holding an email address, which would be kept and shown unsealed', () => {
    const created = refusal(() => parseSubjectInput({ external_id: 'jane@example.com' }));
    expect(created.errors).toEqual([{ pointer: '/external_id', detail: expect.stringMatching(/not an email address/) }]);
    expect(refusal(() => parseSubjectPatch({ external_id: 'jane@example.com' })).errors?.[0]?.pointer).toBe('/external_id');
    expect(parseSubjectInput({ external_id: 'tenant:acct-42.eu_1' }).external_id).toBe('tenant:acct-42.eu_1');
  });

  it.each(['4111111111111111', '4111-1111-1111-1111-003', '4111-1111-1111-1111', 'acct4111111111111111', 'card:5555.5555.5555.4444', '378282246310005', 'cust-01-4111-1111-1111-1111', '2024-4111-1111-1111-1111'])(
    'refuses an external_id holding a card number (%s), which would be kept and shown unsealed',
    (externalId) => {
      expect(refusal(() => parseSubjectInput({ external_id: externalId })).errors).toEqual([{ pointer: '/external_id', detail: expect.stringMatching(/holds a card number/) }]);
      expect(refusal(() => parseSubjectPatch({ external_id: externalId })).errors?.[0]?.pointer).toBe('/external_id');
    },
  );

  it.each(['4111111111111112', '418412306981191684', '4111111111111111003', '1234567890123456789', '100000000000000000000000000042', 'order-20261201-000042', '14155552671', 'shopify-6158193778214', '8126533705662924'])(
    'takes an external_id whose digits are no card number (%s): a failed check digit, no issuer, 17 to 19 digits not in groups of four, too long, a short run',
    (externalId) => {
      expect(parseSubjectInput({ external_id: externalId }).external_id).toBe(externalId);
    },
  );

  it.each([
    [{ name: '4111 1111 1111 1111' }, '/name'],
    [{ name: 'Card 5555-5555-5555-4444 Holder' }, '/name'],
    [{ postal_address: { line1: '4111111111111111', city: 'Leeds', country: 'GB' } }, '/postal_address/line1'],
    [{ postal_address: { line1: '1 Main St', line2: 'ref 3782 822463 10005', city: 'Leeds', country: 'GB' } }, '/postal_address/line2'],
  ])('refuses a card number written into free text (%p): a card is kept only as a payment method', (patch, pointer) => {
    expect(refusal(() => parseSubjectPatch(patch)).errors).toEqual([{ pointer, detail: expect.stringMatching(/must not hold a card number/) }]);
  });

  it.each([
    ['a zero-width joiner', '4111\u200d1111\u200d1111\u200d1111'],
    ['a zero-width non-joiner after every digit', [...'4111111111111111'].join('\u200c')],
    ['a combining grapheme joiner', '4111\u034f1111\u034f1111\u034f1111'],
    ['a variation selector', '4111\ufe0f1111\ufe0f1111\ufe0f1111'],
    ['a combining underline under each digit', [...'4111111111111111'].map((digit) => `${digit}\u0332`).join('')],
    ['a blank braille cell', '4111\u28001111\u28001111\u28001111'],
  ])('refuses a card number whose groups are split by what displays as nothing: %s', (_label, name) => {
    expect(refusal(() => parseSubjectPatch({ name })).errors?.[0]?.detail).toMatch(/must not hold a card number/);
    expect(refusal(() => parseSubjectPatch({ postal_address: { line1: name, city: 'Leeds', country: 'GB' } })).errors?.[0]?.pointer).toBe('/postal_address/line1');
  });

  it.each(['4111,1111,1111,1111', '4111\u22121111\u22121111\u22121111', '4111·1111·1111·1111', '4111•1111•1111•1111', '4111:1111:1111:1111', '4111|1111|1111|1111', '4111~1111~1111~1111', '4111\u{1D11E}1111\u{1D11E}1111\u{1D11E}1111', '3782·822463·10005', 'ref 7,4111,1111,1111,1111'])(
    'refuses a card number printed in groups split by one and the same punctuation or symbol (%s)',
    (name) => {
      expect(refusal(() => parseSubjectPatch({ name })).errors?.[0]?.detail).toMatch(/must not hold a card number/);
    },
  );

  it.each(['4111+1111+1111+1111@example.com', '4111\u034f1111\u034f1111\u034f1111@example.com'])('refuses an email whose local part is a card number split by a symbol or a joiner (%s)', (email) => {
    expect(refusal(() => parseSubjectPatch({ email })).errors?.[0]?.detail).toMatch(/must not hold a card number/);
  });

  it.each([
    'Café 4, 1111 Main Street',
    'Tel. 0161·496·0000',
    'Flat 4•1111 High St',
    '1,111,111,111,111 points',
    'Mañana 12:30, 4111',
    // Lists: 4102 4103 4104 4105 would be a Visa number, 5105 1051 0510 5100 a Mastercard.
    'Rooms 4101, 4102, 4103, 4104, 4105, 4106, 4107, 4108',
    'Docket 5105, 1051, 0510, 5100',
    'Rooms 4102;4103,4104;4105',
  ])('takes text whose numbers are no card number laid out as printed (%s)', (name) => {
    expect(parseSubjectPatch({ name }).name).toBe(name.normalize('NFC'));
  });

  it.each(['4111\u00a01111\u00a01111\u00a01111', '４１１１ １１１１ １１１１ １１１１', '4111\u20131111\u20131111\u20131111', '٤١١١١١١١١١١١١١١١', '४१११ ११११ ११११ ११११', '④①①① ①①①① ①①①① ①①①①'])('refuses a card number written with other spaces, dashes or digits (%p)', (name) => {
    expect(refusal(() => parseSubjectPatch({ name })).errors?.[0]?.detail).toMatch(/must not hold a card number/);
  });

  it.each([
    [{ name: 'Card 4111.1111.1111.1111' }, '/name'],
    [{ name: 'Amex 3782/822463/10005' }, '/name'],
    [{ name: 'Card 4111 1111 1111 1111 003' }, '/name'],
    [{ postal_address: { line1: '4111/1111/1111/1111', city: 'Leeds', country: 'GB' } }, '/postal_address/line1'],
    [{ email: '4111.1111.1111.1111@example.com' }, '/email'],
    [{ email: '4111_1111_1111_1111@example.com' }, '/email'],
    [{ email: '٤١١١١١١١١١١١١١١١@example.com' }, '/email'],
  ])('refuses a card number printed in groups split by dots, slashes or underscores, or of 19 digits in groups (%p)', (patch, pointer) => {
    expect(refusal(() => parseSubjectPatch(patch)).errors).toEqual([{ pointer, detail: expect.stringMatching(/must not hold a card number/) }]);
  });

  it.each(['192.168.100.200', '2026.12.02 41.111111/11.111111', 'v4111.1111.1111.111', 'ref 4111.11111111.1111', '+1.415.555.1234'])('takes text whose numbers split by dots or slashes are not laid out as a card (%s)', (name) => {
    expect(parseSubjectPatch({ name }).name).toBe(name);
  });

  it('refuses a card number written as a full-width postal code, and a postal code too long once in its stored form', () => {
    const address = (postal_code: string) => ({ postal_address: { line1: '1 Main St', city: 'Tokyo', postal_code, country: 'JP' } });
    expect(refusal(() => parseSubjectPatch(address('４１１１１１１１１１１１１１１１'))).errors?.[0]?.pointer).toBe('/postal_address/postal_code');
    expect(refusal(() => parseSubjectPatch(address('\ufdfa\ufdfa\ufdfa'))).errors?.[0]?.detail).toMatch(/at most 20 characters/);
  });

  it.each(['Flat 12, 4111 Ocean Drive', 'PO Box 41111111', 'Unit 4 / 11-15 High Street', '40.732330 -73.960057', 'Lat 40.7323304 Lon -73.9600571'])('takes an address line whose numbers are no card number (%s)', (line1) => {
    expect(parseSubjectPatch({ postal_address: { line1, city: 'Leeds', country: 'GB' } }).postal_address?.line1).toBe(line1);
  });

  it('stores a postal code in its compatibility form, as its masked prefix shows it', () => {
    expect(parseSubjectPatch({ postal_address: { line1: '1 Main St', city: 'Tokyo', postal_code: '１００－０００１', country: 'JP' } }).postal_address?.postal_code).toBe('100-0001');
  });

  it('refuses an empty patch', () => {
    expect(refusal(() => parseSubjectPatch({})).errors?.[0]?.detail).toBe('the patch changes nothing');
  });

  it('refuses a patch whose only member is an empty preferences object, which changes nothing either', () => {
    expect(refusal(() => parseSubjectPatch({ preferences: {} })).errors?.[0]?.detail).toBe('the patch changes nothing');
  });

  it('refuses a birth date that makes the subject a child', () => {
    expect(refusal(() => parseSubjectPatch({ birth_date: yearsAgo(5) })).code).toBe('subject_under_minimum_age');
  });

  it('says once what is wrong with an email, in words that name the rule', () => {
    const details = (email: string) => refusal(() => parseSubjectInput({ email })).errors?.map((e) => e.detail);
    expect(details(' bob@example.com ')).toEqual(['email must not start or end with white space']);
    expect(details('')).toEqual(['email must not be empty']);
    expect(details(' ')).toEqual(['email must not start or end with white space']);
    expect(details('jo@example.com\n')).toEqual(['email must not contain control or invisible formatting characters']);
    expect(details('\u2800')).toEqual(['email must contain a visible character and not start with a combining mark']);
    const invisible = 'email local part must not contain invisible characters (joiners, a variation selector after a letter or digit, a blank braille cell)';
    expect(details('x\u200Dabc@example.com')).toEqual([invisible]);
    expect(details('xabc\u200C@example.com')).toEqual([invisible]);
    // Each displays as jo@example.com, which a search for that address would not find.
    for (const hidden of ['\u034F', '\uFE0F', '\uFE00', '\u2800', '\u{E0100}']) expect(details(`jo${hidden}@example.com`)).toEqual([invisible]);
    expect(details('a\u3000b@example.com')).toEqual(['email local part must not contain spaces other than a quoted ASCII space']);
    expect(details('"a\u2003b"@example.com')).toEqual(['email local part must not contain spaces other than a quoted ASCII space']);
    expect(details('evil\uFF20bank.com@example.com')).toEqual(['email local part must not contain a character that reads as @']);
    expect(details('evil\uFE6Bbank.com@example.com')).toEqual(['email local part must not contain a character that reads as @']);
    expect(parseSubjectInput({ email: '"jo example"@example.com' }).email).toBe('"jo example"@example.com');
    // After an emoji a variation selector chooses its form: part of the address.
    expect(parseSubjectInput({ email: 'i\u2764\uFE0Fnyc@example.com' }).email).toBe('i\u2764\uFE0Fnyc@example.com');
    expect(details('jo@ex\u2800ample.com')).toEqual(['email domain is not a valid domain name']);
    // A Persian domain's non-joiner, where IDNA allows it, is part of the name.
    expect(parseSubjectInput({ email: 'jo@\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.ir' }).email).toBe('jo@\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.ir');
    expect(details(`${'a'.repeat(60)}@${'b'.repeat(190)}.com`)).toEqual(['email must be at most 254 characters']);
    expect(details(`jo@${'c'.repeat(64)}.example`)).toEqual([expect.stringContaining('labels must be at most 63 octets')]);
    // An internationalised label is counted in its xn-- form: 25 different ideographs make one of more than 63.
    const ideographs = Array.from({ length: 25 }, (_, i) => String.fromCodePoint(0x4e00 + i * 331)).join('');
    expect(details(`jo@${ideographs}.example`)).toEqual([expect.stringContaining('labels must be at most 63 octets')]);
  });

  it('says a member of the postal address left out is required', () => {
    const error = refusal(() => parseSubjectInput({ postal_address: { line1: '1 Main St', country: 'US' } }));
    expect(error.errors).toEqual(expect.arrayContaining([{ pointer: '/postal_address/city', detail: 'city is required' }]));
  });

  it("holds exactly the policy's fields of the record, so the owner rule covers every personal field", () => {
    expect([...PERSONAL_FIELDS].sort()).toEqual([...RECORD_FIELDS].sort());
  });
});
