const HIDDEN = '***';

/**
 * `jane.doe@example.com` → `j***@example.com`. The first character of the local part stays only
 * when the local part has at least three, so a short one is never revealed whole; the number of
 * stars is fixed, so the length is not revealed either. The domain is kept as given (IDN domains
 * in Unicode stay Unicode). Characters are counted as code points, never split in half.
 */
export function maskEmail(email: string): string {
  const normalised = email.normalize('NFC').trim();
  // The domain starts after the last @: a quoted local part may itself contain one.
  const at = normalised.lastIndexOf('@');
  if (at <= 0 || at === normalised.length - 1) return HIDDEN;
  const written = [...normalised.slice(0, at)];
  const domain = normalised.slice(at + 1);
  // A quoted local part ("a"@…) is counted without its quotes: `"a"` is one character, not three.
  const quoted = written.length >= 2 && written[0] === '"' && written[written.length - 1] === '"';
  const local = quoted ? written.slice(1, -1) : written;
  const first = local[0];
  const keepFirst = local.length >= 3 && first !== undefined && /[\p{L}\p{N}]/u.test(first);
  return `${keepFirst ? first : ''}${HIDDEN}@${domain}`;
}
