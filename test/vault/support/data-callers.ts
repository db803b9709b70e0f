import { callerWith, dataCaller, type Caller } from '../../policy/support/principals';
import type { TestVault } from '../../support/test-vault';

export type { Caller };

/** The account service of DESIGN.md: writes and reads subjects for account management. */
export const accountService = (vault: TestVault) =>
  callerWith(
    vault,
    { scopes: ['subjects:write', 'subjects:read', 'subjects:search', 'preferences:write', 'payment_methods:write'], purposes: ['account_management'] },
    'subjects:write subjects:read subjects:search preferences:write payment_methods:write',
    'account_management',
  );

/** The mailer with a token for one mailing purpose. */
export const mailer = (vault: TestVault, purpose: string) => dataCaller(vault, 'emails:resolve', purpose);

/** A contractor reading subjects for one purpose. */
export const contractor = (vault: TestVault, purpose: string) => dataCaller(vault, 'subjects:read', purpose, 'contractor');

export const auth = (caller: Caller) => `Bearer ${caller.token}`;

export const SAMPLE = {
  email: 'jo.example@example.com',
  name: 'Jo Example',
  phone: '+442071838750',
  postal_address: { line1: '10 Downing Street', city: 'London', postal_code: 'SW1A 2AA', country: 'GB' },
  birth_date: '1990-04-01',
};

/** Creates a subject through the API as the account service and returns its id and ETag. */
export async function createSubject(vault: TestVault, caller: Caller, body: Record<string, unknown> = SAMPLE): Promise<{ id: string; etag: string }> {
  const res = await vault.post('/v1/subjects').set('Authorization', auth(caller)).send(body).expect(201);
  return { id: res.body.id, etag: res.headers.etag };
}
