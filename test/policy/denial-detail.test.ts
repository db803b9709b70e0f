import { denialError } from '../../src/policy/decision';

describe('the detail of a field_not_allowed refusal', () => {
  const refused = (action: Parameters<typeof denialError>[0]['action'], fields: Record<string, 'plain' | 'masked' | 'token' | 'absent'>) =>
    denialError({ allowed: false, reason: 'field_not_allowed', action, purpose: 'customer_support', policyVersion: 2, fields }).detail;

  it('names a field a write needs to see masked or plain, when the purpose sees it only as a token', () => {
    expect(refused('payment_methods.create', { payment_method: 'token' })).toBe(
      'The purpose customer_support sees payment_method token; payment_methods.create needs to see each field it writes, masked or plain',
    );
  });

  it('names only the fields that fall short, at the level the purpose sees them', () => {
    expect(refused('subjects.update', { email: 'masked', name: 'plain', phone: 'absent', birth_date: 'token' })).toMatch(/^The purpose customer_support sees phone absent, birth_date token; /);
    expect(refused('payment_methods.reveal', { payment_method: 'masked' })).toBe('The purpose customer_support sees payment_method masked; payment_methods.reveal needs each field in plain');
  });
});
