import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { productionEnv, startTestVault, type TestVault } from '../support/test-vault';
import { accessToken, decode, registerAdmin, requestToken } from './support/identity-helpers';

// Each step starts node on the TypeScript sources, five or six times a test: on a loaded machine that alone takes tens of seconds.
jest.setTimeout(90_000);

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
});
afterAll(() => vault.stop());

/** The real command line, from the TypeScript sources, against the test vault's database. */
async function pdvault(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['-r', '@swc-node/register', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      // The vault's own settings: its keyring, so the command can sign the trail it writes to.
      ...productionEnv({ dataDir: vault.config.dataDir, certFile: vault.config.tls.certFile!, keyFile: vault.config.tls.keyFile!, databaseUrl: vault.database.url }),
      PDVAULT_LOG_LEVEL: 'silent',
    },
  });
}

const auditorToken = async () => accessToken(vault, await registerAdmin(vault), { scope: 'audit:read' });

describe('pdvault clients', () => {
  it('creates a client whose printed credentials obtain a token, then lists, rotates and disables it', async () => {
    const created = await pdvault(
      'clients', 'create', '--name', 'billing', '--scopes', 'payment_methods:read payment_methods:reveal',
      '--purposes', 'billing payment_processing', '--kind', 'contractor', '--expires', '2099-06-30',
    );
    const credentials = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
    expect(Object.keys(credentials).sort()).toEqual(['client_id', 'client_secret']);
    const billing = { clientId: credentials.client_id, clientSecret: credentials.client_secret };
    const token = await accessToken(vault, billing, { scope: 'payment_methods:reveal', purpose: 'payment_processing' });
    expect(decode(token).claims.sub).toBe(billing.clientId);

    const listed = JSON.parse((await pdvault('clients', 'list')).stdout) as Array<Record<string, unknown>>;
    expect(listed).toContainEqual(expect.objectContaining({ client_id: billing.clientId, name: 'billing', kind: 'contractor', expires_at: '2099-07-01T00:00:00.000Z' }));
    expect(JSON.stringify(listed)).not.toContain(billing.clientSecret);

    const overlapping = JSON.parse((await pdvault('clients', 'rotate-secret', billing.clientId)).stdout);
    await accessToken(vault, { clientId: billing.clientId, clientSecret: overlapping.client_secret }, { scope: 'payment_methods:read', purpose: 'billing' });
    // A secret that leaked: the previous one (the overlapping one here) ends at once.
    const rotated = JSON.parse((await pdvault('clients', 'rotate-secret', '--end-previous', billing.clientId)).stdout);
    await requestToken(vault, { clientId: billing.clientId, clientSecret: overlapping.client_secret }, { grant_type: 'client_credentials', scope: 'payment_methods:read', purpose: 'billing' }).expect(401);
    await accessToken(vault, { clientId: billing.clientId, clientSecret: rotated.client_secret }, { scope: 'payment_methods:read', purpose: 'billing' });

    const disabled = JSON.parse((await pdvault('clients', 'disable', billing.clientId)).stdout);
    expect(disabled.enabled).toBe(false);
    await vault.get('/v1/admin/clients').set('Authorization', `Bearer ${token}`).expect(401);

    // Each change is in the trail, by the operator at the command line, without the secret.
    const events = await vault.vault.db('audit_events').where({ target: billing.clientId, client_id: 'operator:cli' }).orderBy('seq');
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ['client.registered', 'allowed'],
      ['client.secret_rotated', 'allowed'],
      ['client.secret_rotated', 'allowed'],
      ['client.disabled', 'allowed'],
    ]);
    expect(JSON.stringify(events)).not.toContain(rotated.client_secret);
    expect((await vault.get('/v1/admin/audit/verify').set('Authorization', `Bearer ${await auditorToken()}`).expect(200)).body.ok).toBe(true);
  });

  it('refuses an invalid grant with a message and exit status 1', async () => {
    await expect(pdvault('clients', 'create', '--name', 'bad', '--scopes', 'subjects:read')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('A client granted a data scope is granted at least one purpose'),
    });
  });

  it('names the option to fix, and says a misspelt scope once rather than what follows from it', async () => {
    await expect(pdvault('clients', 'create', '--name', 'courier', '--scopes', 'subjects:read', '--purposes', 'shipping', '--kind', 'contractor')).rejects.toMatchObject({
      code: 1,
      stderr: "pdvault: The client registration is not valid\n  --expires: A contractor's grant has an expiry (the end of its contract)\n",
    });
    await expect(pdvault('clients', 'create', '--name', 'typo', '--scopes', 'subjects:reed', '--purposes', 'shipping')).rejects.toMatchObject({
      code: 1,
      stderr: 'pdvault: The client registration is not valid\n  --scopes: Unknown scope "subjects:reed"\n',
    });
    expect(await vault.vault.db('clients').whereIn('name', ['courier', 'typo'])).toEqual([]);
  });
});
