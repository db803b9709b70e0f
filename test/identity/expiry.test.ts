import { parseExpiry } from '../../src/identity/expiry';

describe('a client expiry', () => {
  it('reads a date as the end of that day (UTC) and a date-time with its offset', () => {
    expect(parseExpiry('2099-06-30')?.toISOString()).toBe('2099-07-01T00:00:00.000Z');
    expect(parseExpiry('2099-06-30T12:30:15+02:00')?.toISOString()).toBe('2099-06-30T10:30:15.000Z');
    expect(parseExpiry('2099-06-30t12:30:15.25-01:30')?.toISOString()).toBe('2099-06-30T14:00:15.250Z');
    expect(parseExpiry('2099-12-31T23:59:59Z')?.toISOString()).toBe('2099-12-31T23:59:59.000Z');
    expect(parseExpiry('2096-02-29T00:00:00Z')?.toISOString()).toBe('2096-02-29T00:00:00.000Z');
  });

  it.each([
    '2099-02-30T00:00:00Z',
    '2099-02-31T12:00:00+01:00',
    '2099-04-31T00:00:00Z',
    '2099-02-29T00:00:00Z',
    '2099-13-01T00:00:00Z',
    '2099-06-30T24:00:00Z',
    '2099-06-30T12:60:00Z',
    '2099-06-30T12:00:60Z',
    '2099-06-30T12:00:00+24:00',
    '2099-06-30T12:00:00+01:60',
    '2099-02-30',
  ])('refuses %s, a date or time that does not exist, instead of rolling it over', (value) => {
    expect(parseExpiry(value)).toBeUndefined();
  });

  it('refuses an expiry an RFC 3339 answer could not write back (past the year 9999)', () => {
    expect(parseExpiry('9999-12-31')).toBeUndefined();
    expect(parseExpiry('9999-12-31T23:30:00-01:00')).toBeUndefined();
    expect(parseExpiry('9999-12-30')?.toISOString()).toBe('9999-12-31T00:00:00.000Z');
  });

  it('refuses what is not RFC 3339', () => {
    for (const value of ['2099-6-30', '2099-06-30 12:00:00Z', '2099-06-30T12:00:00', 'tomorrow', '']) expect(parseExpiry(value)).toBeUndefined();
  });
});
