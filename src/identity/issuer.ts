import type { IdentitySettings } from '../config/config';

/** The issuer identifier: configured, or the listener's URL once the vault listens. */
export function issuerOf(settings: IdentitySettings): string {
  if (!settings.issuer) throw new Error('the issuer is not known before the vault listens');
  return settings.issuer;
}
