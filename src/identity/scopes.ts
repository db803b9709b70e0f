/** Scopes that reach personal data; a token holding one is bound to exactly one purpose. */
export const DATA_SCOPES = [
  'subjects:read',
  'subjects:write',
  'subjects:search',
  'payment_methods:read',
  'payment_methods:write',
  'payment_methods:reveal',
  'preferences:write',
  'emails:resolve',
] as const;

/** Scopes of the security team; they reach no personal data and take no purpose. */
export const ADMIN_SCOPES = ['admin:clients', 'admin:keys', 'admin:policy', 'audit:read'] as const;

export type DataScope = (typeof DATA_SCOPES)[number];
export type AdminScope = (typeof ADMIN_SCOPES)[number];
export type Scope = DataScope | AdminScope;

export const SCOPES: readonly Scope[] = [...DATA_SCOPES, ...ADMIN_SCOPES];

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);
export const isDataScope = (value: string): value is DataScope => (DATA_SCOPES as readonly string[]).includes(value);
export const isAdminScope = (value: string): value is AdminScope => (ADMIN_SCOPES as readonly string[]).includes(value);

/** RFC 6749 §3.3: a space-delimited list; empty items (repeated spaces) are not accepted. */
export function splitScopeList(value: string): string[] | undefined {
  const items = value.split(' ');
  return items.every((item) => /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(item)) ? items : undefined;
}
