/** The parts of a postal address masking reads; every other line is dropped unread. */
export interface AddressParts {
  country?: string | null;
  postal_code?: string | null;
}

export interface MaskedAddress {
  country: string | null;
  postal_code_prefix: string | null;
}

/**
 * Country and the start of the postal code only: `SW1A 1AA` → `SW1`, `94105-1234` → `941`,
 * `10115` → `10`. At most three characters, and never more than half of the code, so a short
 * code (Iceland's `101`) keeps one character. Street, number, name and city never appear.
 */
export function maskPostalAddress(address: AddressParts): MaskedAddress {
  const country = typeof address.country === 'string' && /^[A-Za-z]{2}$/.test(address.country.trim()) ? address.country.trim().toUpperCase() : null;
  const code = typeof address.postal_code === 'string' ? address.postal_code.normalize('NFKC').toUpperCase().replace(/[^\p{L}\p{N}]/gu, '') : '';
  const length = [...code].length;
  const keep = Math.min(3, Math.floor(length / 2));
  return { country, postal_code_prefix: keep > 0 ? [...code].slice(0, keep).join('') : null };
}

/** Analytics sees the country alone. */
export function countryOf(address: AddressParts): string | null {
  return maskPostalAddress(address).country;
}
