import { evaluate } from '../../src/policy/evaluate';
import type { PolicyDocument } from '../../src/policy/policy-document';

// A replacement policy may give a purpose both a subscription and an approval condition.
const policy: PolicyDocument = {
  purposes: {
    promotions: { fields: { email: 'plain' }, conditions: [{ type: 'subscribed', category: 'promotions' }, { type: 'approval' }] },
  },
};
const principal = { clientId: 'cli_AAAAAAAAAAAAAAAA', scopes: ['subjects:search'], purpose: 'promotions', jti: 'jti', expiresAt: new Date(Date.now() + 60_000) };
const grants = { scopes: ['subjects:search'], purposes: ['promotions'], enabled: true, expiresAt: null };

const searchFinding = (preferences: Record<string, boolean>) =>
  evaluate({
    policy,
    policyVersion: 2,
    principal,
    grants,
    action: 'subjects.search',
    subject: { id: 'sub_AAAAAAAAAAAAAAAAAAAAAA', preferences },
    fields: ['email'],
    defaults: { defaultSubscribed: true, defaultShareWithPartners: false },
    now: new Date(),
  }).decision;

describe('a purpose whose approval a search cannot use', () => {
  it('is refused the same whether the subject found opted out or not: the refusal tells nothing of the subject', () => {
    expect(searchFinding({ promotions: false })).toMatchObject({ allowed: false, reason: 'approval_required' });
    expect(searchFinding({ promotions: true })).toMatchObject({ allowed: false, reason: 'approval_required' });
  });
});
