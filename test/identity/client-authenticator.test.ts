import { Argon2Gate } from '../../src/identity/argon2-gate';
import { AuthThrottle } from '../../src/identity/auth-throttle';
import { ClientAuthenticator } from '../../src/identity/client-authenticator';
import { ClientStore } from '../../src/store/clients';
import { startTestVault, type TestVault } from '../support/test-vault';
import { registerClient } from './support/identity-helpers';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
});
afterAll(() => vault.stop());

/** The vault's own gate, made to hold each verification until the test lets it go on. */
function heldGate(): { gate: Argon2Gate; reached: Promise<void>; letGo(): void } {
  const real = new Argon2Gate(1, 10);
  let reach!: () => void;
  let go!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (go = resolve));
  const gate = Object.create(real) as Argon2Gate;
  gate.verify = async (hash, secret) => {
    reach();
    await released;
    return real.verify(hash, secret);
  };
  return { gate, reached, letGo: go };
}

describe('a client authentication waiting for its argon2 verification', () => {
  it('is refused when the secret it presented was ended by a rotation meanwhile (a leaked secret)', async () => {
    const client = await registerClient(vault);
    const held = heldGate();
    const authenticator = new ClientAuthenticator(new ClientStore(vault.vault.db), held.gate, new AuthThrottle(vault.vault.db, vault.config.identity));

    const authenticating = authenticator.authenticate(client, '127.0.0.1');
    authenticating.catch(() => undefined);
    await held.reached;
    await vault.vault.identity.clients.rotateSecret(client.clientId, { via: 'cli' }, { endPrevious: true });
    held.letGo();

    await expect(authenticating).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it('is answered when the client still takes the secret, with the client as it stands now', async () => {
    const client = await registerClient(vault);
    const held = heldGate();
    const authenticator = new ClientAuthenticator(new ClientStore(vault.vault.db), held.gate, new AuthThrottle(vault.vault.db, vault.config.identity));

    const authenticating = authenticator.authenticate(client, '127.0.0.1');
    await held.reached;
    await vault.vault.identity.clients.changeGrants(client.clientId, { scopes: ['payment_methods:read'] }, { via: 'cli' });
    held.letGo();

    expect((await authenticating).scopes).toEqual(['payment_methods:read']);
  });
});
