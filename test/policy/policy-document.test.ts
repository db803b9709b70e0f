import { VaultError } from '../../src/errors/vault-error';
import { parsePolicyDocument, parseStoredPolicyDocument } from '../../src/policy/policy-document';

// Every policy keeps transactional mail and a purpose that owns the record; the documents below are about the other purposes.
const TRANSACTIONAL = { fields: { email: 'plain' } };
const OWNER = { fields: { email: 'plain', name: 'plain', phone: 'plain', postal_address: 'plain', birth_date: 'plain' } };
const withTransactional = (purposes: Record<string, unknown>) => ({ purposes: { transactional_email: TRANSACTIONAL, account_management: OWNER, ...purposes } });

const problemsOf = (input: unknown) => {
  try {
    parsePolicyDocument(input);
  } catch (error) {
    expect(error).toBeInstanceOf(VaultError);
    expect((error as VaultError).code).toBe('invalid_policy');
    return (error as VaultError).errors!.map((p) => p.pointer);
  }
  throw new Error('the document was accepted');
};

describe('a policy document', () => {
  it('is accepted with known purposes, fields, levels and conditions', () => {
    const parsed = parsePolicyDocument(
      withTransactional({
        shipping: { fields: { name: 'plain', postal_address: 'plain' } },
        newsletter: { fields: { email: 'plain' }, conditions: [{ type: 'subscribed', category: 'newsletter' }] },
        analytics: { fields: { country: 'plain' }, subject_reference: 'pseudonym' },
        legal_disclosure: { fields: { email: 'plain' }, conditions: [{ type: 'approval' }] },
      }),
    );
    expect(parsed.purposes.analytics).toEqual({ fields: { country: 'plain' }, subject_reference: 'pseudonym' });
  });

  it.each([
    ['a right-to-left override', 'ships \u202Eeman\u202C only'],
    ['a bell', 'ships\u0007'],
    ['a zero-width space', 'ships\u200Bonly'],
    ['a tag character', 'ships\u{E0041}'],
  ])('refuses a description with %s, which would read differently from what it says', (_label, description) => {
    expect(problemsOf(withTransactional({ shipping: { fields: { name: 'plain' }, description } }))).toEqual(['/purposes/shipping/description']);
  });

  it('still reads a stored version whose description came before that rule', () => {
    const stored = withTransactional({ shipping: { fields: { name: 'plain' }, description: 'ships\u200Bonly' } });
    expect(parseStoredPolicyDocument(stored).purposes.shipping!.description).toBe('ships\u200Bonly');
  });

  it('takes a description with line breaks, tabs, accents and symbols', () => {
    const description = 'Livraison à domicile:\r\n\tnom et adresse — rien d’autre (€, ✓)';
    expect(parsePolicyDocument(withTransactional({ shipping: { fields: { name: 'plain' }, description } })).purposes.shipping!.description).toBe(description);
  });

  it('takes a description of 500 characters counted by code point, and refuses 501', () => {
    const described = (description: string) => withTransactional({ shipping: { fields: { name: 'plain' }, description } });
    expect(parsePolicyDocument(described('\u{1F4E6}'.repeat(500))).purposes.shipping!.description).toHaveLength(1000);
    expect(problemsOf(described('\u{1F4E6}'.repeat(501)))).toEqual(['/purposes/shipping/description']);
  });

  it('is refused with the path of an unknown purpose', () => {
    expect(problemsOf(withTransactional({ teleportation: { fields: {} } }))).toEqual(['/purposes/teleportation']);
  });

  it('is refused with the path of an unknown field', () => {
    expect(problemsOf(withTransactional({ shipping: { fields: { shoe_size: 'plain' } } }))).toEqual(['/purposes/shipping/fields/shoe_size']);
  });

  it('is refused with the path of an unknown reveal level', () => {
    expect(problemsOf(withTransactional({ shipping: { fields: { name: 'partly' } } }))).toEqual(['/purposes/shipping/fields/name']);
  });

  it('is refused for a level the field does not have (a masked country)', () => {
    expect(problemsOf(withTransactional({ analytics: { fields: { country: 'masked' } } }))).toEqual(['/purposes/analytics/fields/country']);
  });

  it('is refused with the path of an unknown condition or category', () => {
    expect(
      problemsOf(
        withTransactional({
          shipping: { fields: {}, conditions: [{ type: 'moon_phase' }, { type: 'subscribed', category: 'spam' }] },
        }),
      ),
    ).toEqual(['/purposes/shipping/conditions/0/type', '/purposes/shipping/conditions/1/category']);
  });

  it.each([
    ['transactional mail made unsubscribable', { transactional_email: { fields: { email: 'plain' }, conditions: [{ type: 'subscribed', category: 'newsletter' }] } }, '/purposes/transactional_email/conditions'],
    ['transactional mail held back until partner sharing is consented', { transactional_email: { fields: { email: 'plain' }, conditions: [{ type: 'sharing_consent' }] } }, '/purposes/transactional_email/conditions'],
    ['transactional mail behind an approval', { transactional_email: { fields: { email: 'plain' }, conditions: [{ type: 'approval' }] } }, '/purposes/transactional_email/conditions'],
    ['transactional mail without the address in plain', { transactional_email: { fields: { email: 'masked' } } }, '/purposes/transactional_email/fields/email'],
    ['a newsletter sent to everyone', { newsletter: { fields: { email: 'plain' } } }, '/purposes/newsletter/conditions'],
    ['promotions gated on another category', { promotions: { fields: { email: 'plain' }, conditions: [{ type: 'subscribed', category: 'surveys' }] } }, '/purposes/promotions/conditions'],
    ['partner sharing without opt-in', { joint_promotion: { fields: { email: 'plain' } } }, '/purposes/joint_promotion/conditions'],
  ])('is refused when it breaks a promise to subjects: %s', (_label, purposes, pointer) => {
    expect(problemsOf(withTransactional(purposes))).toEqual([pointer]);
  });

  it('reports every problem at once, with escaped pointers', () => {
    expect(problemsOf({ extra: 1, purposes: { transactional_email: TRANSACTIONAL, account_management: OWNER, 'a/b': {}, shipping: { fields: { name: 'plain' }, colour: 'red' } } })).toEqual([
      '/extra',
      '/purposes/a~1b',
      '/purposes/shipping/colour',
    ]);
  });

  it('keeps legal disclosure break-glass', () => {
    expect(problemsOf(withTransactional({ legal_disclosure: { fields: { email: 'plain' } } }))).toEqual(['/purposes/legal_disclosure/conditions']);
  });

  it('is refused without transactional mail, which is always allowed', () => {
    expect(problemsOf({ purposes: { account_management: OWNER } })).toEqual(['/purposes/transactional_email']);
    expect(problemsOf({ purposes: { account_management: OWNER, shipping: { fields: { name: 'plain' } } } })).toEqual(['/purposes/transactional_email']);
  });

  it('is refused without a purpose that owns the record: one seeing every field of it in plain, on no condition, naming subjects by id', () => {
    expect(problemsOf({ purposes: { transactional_email: TRANSACTIONAL } })).toEqual(['/purposes']);
    const conditional = { ...OWNER, conditions: [{ type: 'sharing_consent' }] };
    expect(problemsOf({ purposes: { transactional_email: TRANSACTIONAL, joint_promotion: conditional } })).toEqual(['/purposes']);
    const masked = { fields: { ...OWNER.fields, birth_date: 'token' } };
    expect(problemsOf({ purposes: { transactional_email: TRANSACTIONAL, account_management: masked } })).toEqual(['/purposes']);
    // It could not create the subjects it owns, nor address one to erase it.
    const pseudonymous = { ...OWNER, subject_reference: 'pseudonym' };
    expect(problemsOf({ purposes: { transactional_email: TRANSACTIONAL, account_management: pseudonymous } })).toEqual(['/purposes']);
  });

  it.each([null, [], 'policy', { purposes: [] }])('is refused when it is not an object of purposes (%j)', (input) => {
    expect(problemsOf(input).length).toBeGreaterThan(0);
  });
});
