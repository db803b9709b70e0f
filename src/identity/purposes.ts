/**
 * The purposes a data token may be bound to (DESIGN.md, "Purposes"). The catalogue of what
 * each purpose may see moves to the policy table in a later issue; this is only the vocabulary.
 */
export const PURPOSES = [
  'account_management',
  'billing',
  'payment_processing',
  'transactional_email',
  'newsletter',
  'promotions',
  'surveys',
  'partner_offers',
  'joint_promotion',
  'shipping',
  'debt_collection',
  'customer_support',
  'analytics',
  'legal_disclosure',
] as const;

export type Purpose = (typeof PURPOSES)[number];

export const isPurpose = (value: string): value is Purpose => (PURPOSES as readonly string[]).includes(value);
