import { loadConfig } from '../../src/config/config';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject } from '../vault/support/data-callers';
import { registerClient, requestToken, type Credentials } from './support/identity-helpers';

const grant = { grant_type: 'client_credentials', scope: 'payment_methods:read', purpose: 'billing' };
const THROTTLE = { PDVAULT_AUTH_FAILURES_PER_CLIENT: '50', PDVAULT_AUTH_FAILURES_PER_ADDRESS: '4', PDVAULT_AUTH_FAILURE_WINDOW_SECONDS: '120' };
const stranger = (i: number): Credentials => ({ clientId: `cli_${String(i).padStart(16, 'y')}`, clientSecret: 'guess' });

const failFrom = async (vault: TestVault, forwardedFor: string, times: number) => {
  for (let i = 0; i < times; i += 1) await requestToken(vault, stranger(i), grant).set('X-Forwarded-For', forwardedFor).expect(401);
};

/** The source address the audit trail recorded for the request that answered `res`. */
async function auditedAddress(vault: TestVault, res: { headers: Record<string, string> }): Promise<string[]> {
  return vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] }).pluck('source_address');
}

describe('without trusted proxies (the default)', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault(THROTTLE);
  });
  afterAll(() => vault.stop());

  it('ignores X-Forwarded-For: failures count against the peer, whatever address a request claims', async () => {
    for (let i = 0; i < 4; i += 1) await failFrom(vault, `203.0.113.${i + 1}`, 1);
    const innocent = await registerClient(vault);
    await requestToken(vault, innocent, grant).set('X-Forwarded-For', '198.51.100.1').expect(429);
  });

  it('records the peer address in the audit trail, not the claimed one', async () => {
    await vault.vault.db('auth_failures').delete();
    const account = await accountService(vault);
    const { id } = await createSubject(vault, account, { email: 'peer@example.com' });
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('X-Forwarded-For', '198.51.100.9').expect(200);
    expect(await auditedAddress(vault, res)).toEqual(['127.0.0.1']);
  });
});

describe('behind a trusted proxy', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault({ ...THROTTLE, PDVAULT_TRUSTED_PROXIES: '127.0.0.0/8, ::1' });
  });
  afterAll(() => vault.stop());
  beforeEach(() => vault.vault.db('auth_failures').delete());

  it('throttles the forwarded address that failed, and not the other clients behind the same proxy', async () => {
    await failFrom(vault, '203.0.113.5', 4);
    const innocent = await registerClient(vault);
    await requestToken(vault, innocent, grant).set('X-Forwarded-For', '203.0.113.5').expect(429);
    await requestToken(vault, innocent, grant).set('X-Forwarded-For', '203.0.113.6').expect(200);
  });

  it('takes the address the proxy added, not one the client wrote before it', async () => {
    // The client sent "X-Forwarded-For: 198.51.100.77"; the proxy appended the address it saw.
    await failFrom(vault, '198.51.100.77, 203.0.113.8', 4);
    const innocent = await registerClient(vault);
    await requestToken(vault, innocent, grant).set('X-Forwarded-For', '198.51.100.77, 203.0.113.8').expect(429);
    await requestToken(vault, innocent, grant).set('X-Forwarded-For', '198.51.100.77').expect(200);
  });

  it('records the forwarded address in the audit trail and the request log, with the proxy it came through', async () => {
    const account = await accountService(vault);
    const { id } = await createSubject(vault, account, { email: 'forwarded@example.com' });
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('X-Forwarded-For', '198.51.100.9').expect(200);
    expect(await auditedAddress(vault, res)).toEqual(['198.51.100.9']);
    const line = vault.logs.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.request_id === res.headers['x-request-id'] && entry.msg === 'request');
    expect(line).toMatchObject({ remote: '198.51.100.9', via: '127.0.0.1' });
  });

  it.each([
    ['203.0.113.9:51234', '203.0.113.9'],
    ['[2001:db8::7]:443', '2001:db8::7'],
    ['[2001:db8::8]', '2001:db8::8'],
    [`fe80::1%${'x'.repeat(60)}`, 'fe80::1'],
  ])('records %j, as a proxy may write it, as %s', async (forwarded, recorded) => {
    const account = await accountService(vault);
    const { id } = await createSubject(vault, account, { email: 'port@example.com' });
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('X-Forwarded-For', forwarded).expect(200);
    expect(await auditedAddress(vault, res)).toEqual([recorded]);
  });

  it('falls back to the peer address when the forwarded entry is not an address', async () => {
    const account = await accountService(vault);
    const { id } = await createSubject(vault, account, { email: 'garbage@example.com' });
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('X-Forwarded-For', '<script>, not-an-ip').expect(200);
    expect(await auditedAddress(vault, res)).toEqual(['127.0.0.1']);
  });
});

describe('PDVAULT_TRUSTED_PROXIES', () => {
  const base = { PDVAULT_MODE: 'development', PDVAULT_DATA_DIR: '/tmp/unused' };

  it.each(['10.0.0.0/33', '10.0.0.1, proxy.internal', 'fd00::/129', '*'])('refuses %j, naming the setting', (value) => {
    expect(() => loadConfig({ ...base, PDVAULT_TRUSTED_PROXIES: value })).toThrow(/PDVAULT_TRUSTED_PROXIES is invalid: each entry must be an IP address or a CIDR range/);
  });

  it.each(['0.0.0.0/0', '10.0.0.1, ::/0'])('refuses %j, a range that trusts every address', (value) => {
    expect(() => loadConfig({ ...base, PDVAULT_TRUSTED_PROXIES: value })).toThrow(/PDVAULT_TRUSTED_PROXIES is invalid: a \/0 range would trust every address/);
  });

  it('reads addresses and ranges of both families, and nothing when unset', () => {
    expect(loadConfig({ ...base, PDVAULT_TRUSTED_PROXIES: ' 10.0.0.7 ,10.1.0.0/16,fd00::/8' }).http.trustedProxies).toEqual(['10.0.0.7', '10.1.0.0/16', 'fd00::/8']);
    expect(loadConfig(base).http.trustedProxies).toEqual([]);
  });
});
