import { adminCaller, callerWith, type Caller } from '../../policy/support/principals';
import type { TestVault } from '../../support/test-vault';

export const keyAdmin = (vault: TestVault): Promise<Caller> => adminCaller(vault, ['admin:keys']);

/** The account service: creates and reads subjects for account management. */
export const accountService = (vault: TestVault) =>
  callerWith(
    vault,
    { scopes: ['subjects:write', 'subjects:read', 'subjects:search', 'payment_methods:write'], purposes: ['account_management'] },
    'subjects:write subjects:read subjects:search payment_methods:write',
    'account_management',
  );

/** The payment processor: reveals a card for `payment_processing`. */
export const paymentProcessor = (vault: TestVault) =>
  callerWith(vault, { scopes: ['payment_methods:reveal'], purposes: ['payment_processing'] }, 'payment_methods:reveal', 'payment_processing');

export const VISA = { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, holder_name: 'Jo Example' };

export const bearer = (caller: Caller) => `Bearer ${caller.token}`;

export function subjectBody(n: number) {
  return { email: `person.${n}@example.com`, name: `Person ${n}`, phone: '+442071838750', birth_date: '1990-04-01' };
}

/** Polls the job until it is no longer running (the rotation finishes in the background). */
export async function waitForJob(vault: TestVault, admin: Caller, jobId: string): Promise<Record<string, unknown>> {
  for (;;) {
    const res = await vault.get(`/v1/admin/jobs/${jobId}`).set('Authorization', bearer(admin)).expect(200);
    if (res.body.state !== 'running') return res.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads subjects in a loop until stopped; every answer must be 200 with the email it was created with. */
export function readWhile(vault: TestVault, reader: Caller, subjects: ReadonlyArray<{ id: string; email: string }>) {
  let stop = false;
  const failures: string[] = [];
  let reads = 0;
  const loop = (async () => {
    let i = 0;
    while (!stop) {
      const subject = subjects[i++ % subjects.length]!;
      const res = await vault.get(`/v1/subjects/${subject.id}`).set('Authorization', bearer(reader));
      reads += 1;
      if (res.status !== 200 || res.body.email !== subject.email) failures.push(`${subject.id}: ${res.status}`);
    }
  })();
  return {
    async stop() {
      stop = true;
      await loop;
      return { reads, failures };
    },
  };
}
