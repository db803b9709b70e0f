import crypto from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import request from 'supertest';
import type { ClientRegistration } from '../../../src/identity/client-registry';
import { startVault, type RunningVault } from '../../../src/cli/vault';
import { expectMatchesSpec } from '../../support/openapi';
import type { TestVault } from '../../support/test-vault';

export interface Credentials {
  clientId: string;
  clientSecret: string;
}

let counter = 0;

/** Registers a client directly through the registry (as the CLI does) and returns its credentials. */
export async function registerClient(vault: TestVault, registration: Partial<ClientRegistration> = {}): Promise<Credentials> {
  counter += 1;
  const issued = await vault.vault.identity.clients.register(
    {
      name: `client-${counter}-${crypto.randomBytes(3).toString('hex')}`,
      kind: 'internal',
      scopes: ['payment_methods:read', 'payment_methods:reveal'],
      purposes: ['billing', 'payment_processing'],
      ...registration,
    },
    { via: 'cli' },
  );
  return { clientId: issued.client_id, clientSecret: issued.client_secret };
}

export const registerAdmin = (vault: TestVault) =>
  registerClient(vault, { scopes: ['admin:clients', 'audit:read'], purposes: [] });

export const basic = (c: Credentials) =>
  'Basic ' + Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64');

/** POST /oauth/token with client_secret_basic. */
export function requestToken(vault: TestVault, c: Credentials, params: Record<string, string>) {
  return vault.post('/oauth/token').set('Authorization', basic(c)).type('form').send(params);
}

export async function accessToken(vault: TestVault, c: Credentials, params: Record<string, string> = { scope: 'payment_methods:read', purpose: 'billing' }): Promise<string> {
  const res = await requestToken(vault, c, { grant_type: 'client_credentials', ...params }).expect(200);
  return res.body.access_token as string;
}

export const decode = (token: string) => ({ header: decodeProtectedHeader(token), claims: decodeJwt(token) });

/** A second instance of the vault on the same database, as behind a load balancer. */
export async function startSecondInstance(
  first: TestVault,
  adjust: (config: TestVault['config']) => void = () => undefined,
): Promise<{ vault: RunningVault; call: (method: 'get' | 'post', path: string) => request.Test; stop(): Promise<void> }> {
  // The same settings (database, keys, issuer), its own listener: as behind one load balancer.
  const config = structuredClone(first.config);
  config.http.port = 0;
  adjust(config);
  const vault = await startVault(config, { logDestination: { write: () => true } as never });
  const url = `https://localhost:${vault.port}`;
  return {
    vault,
    call: (method, path) => request(url)[method](path).ca(first.ca).expect(expectMatchesSpec),
    stop: () => vault.stop(),
  };
}

/** How many argon2 verifications this vault has computed so far. */
export async function argon2Verifications(vault: TestVault): Promise<number> {
  const metric = await vault.vault.metrics.registry.getSingleMetric('pdvault_argon2_operations_total')?.get();
  return metric?.values.find((v) => v.labels.operation === 'verify')?.value ?? 0;
}
