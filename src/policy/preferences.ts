import { SUBSCRIPTION_CATEGORIES } from './vocabulary';

/**
 * A subject's choices (DESIGN.md, "Purposes"): the four mailing categories are on until the
 * subject unsubscribes; sharing with a partner is off until the subject opts in. Both defaults
 * are settings, for jurisdictions that require opt-in.
 */
export interface Preferences {
  newsletter: boolean;
  promotions: boolean;
  surveys: boolean;
  partner_offers: boolean;
  share_with_partners: boolean;
}

export const PREFERENCE_NAMES = [...SUBSCRIPTION_CATEGORIES, 'share_with_partners'] as const satisfies readonly (keyof Preferences)[];
export type PreferenceName = (typeof PREFERENCE_NAMES)[number];
export const isPreferenceName = (value: string): value is PreferenceName => (PREFERENCE_NAMES as readonly string[]).includes(value);

/** What a subject row holds: only the choices the subject actually made. */
export type StoredPreferences = Readonly<Record<string, unknown>>;

export interface PreferenceDefaults {
  defaultSubscribed: boolean;
  defaultShareWithPartners: boolean;
}

export function defaultPreferences(defaults: PreferenceDefaults): Preferences {
  const subscribed = defaults.defaultSubscribed;
  return { newsletter: subscribed, promotions: subscribed, surveys: subscribed, partner_offers: subscribed, share_with_partners: defaults.defaultShareWithPartners };
}

/** The choices in force: what the subject said, else the default; anything not a known boolean is ignored. */
export function effectivePreferences(stored: StoredPreferences | undefined, defaults: PreferenceDefaults): Preferences {
  const effective = defaultPreferences(defaults);
  for (const name of PREFERENCE_NAMES) {
    const value = stored?.[name];
    if (typeof value === 'boolean') effective[name] = value;
  }
  return effective;
}
