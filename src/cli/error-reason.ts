/**
 * An error's own words. A host name with several addresses that all refuse fails as an
 * AggregateError with no message of its own: its reason is in the errors it gathers.
 */
export function reasonOf(error: Error & { code?: unknown; errors?: unknown }): string {
  if (error.message) return error.message;
  const gathered = Array.isArray(error.errors) ? error.errors.map((inner: unknown) => (inner instanceof Error ? inner.message : String(inner))).filter(Boolean) : [];
  return gathered.length ? [...new Set(gathered)].join('; ') : typeof error.code === 'string' ? error.code : 'no reason given';
}
