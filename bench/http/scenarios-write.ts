import crypto from 'node:crypto';
import { basicAuth, tokenRequestBody } from './clients';
import { hasRoute, loadSettings, loopbackUrl, measureBaselineRead, pick, settler, vaultLoad } from './context';
import { measure } from './load';
import type { HttpScenario } from './scenario';
import { atLeast } from './targets';

const JSON_TYPE = { 'content-type': 'application/json' };

export const createScenario: HttpScenario = {
  name: 'create',
  title: 'subject creation with email, name and postal address (POST /v1/subjects)',
  async run(ctx) {
    const tag = crypto.randomBytes(3).toString('hex');
    let n = 0;
    const body = () => {
      n += 1;
      return JSON.stringify({
        email: `new.${tag}.${n}@example-mail.com`,
        name: `New Member ${n}`,
        postal_address: { line1: `${n} Oak Avenue`, city: 'Portland', region: 'OR', postal_code: '97201', country: 'US' },
      });
    };
    const baseline = await measureBaselineRead(ctx, ctx.smallIds());
    const load = await vaultLoad(ctx, ctx.vault, ctx.account, 'subjects:write', 'account_management', {
      method: 'POST',
      path: '/v1/subjects',
      headers: JSON_TYPE,
      setupRequest: (req) => ({ ...req, body: body() }),
    });
    const ours = await measure('vault', 'vault: POST /v1/subjects', load, loadSettings(ctx.options));
    return { measurements: [baseline, ours], targets: [atLeast('≥ 1,000 subjects/s', ours.opsPerSecond, 1000, 'subjects/s')], notes: [] };
  },
};

/** A random 16-digit Visa number with a valid Luhn check digit. */
function visaNumber(): string {
  const digits = [4, ...Array.from({ length: 14 }, () => crypto.randomInt(10))];
  const sum = digits
    .slice()
    .reverse()
    .reduce((acc, d, i) => acc + (i % 2 === 0 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d), 0);
  return [...digits, (10 - (sum % 10)) % 10].join('');
}

export const tokenizeScenario: HttpScenario = {
  name: 'tokenize',
  title: 'card tokenization (POST /v1/subjects/{id}/payment-methods)',
  async run(ctx) {
    if (!hasRoute(ctx.vault, '/v1/subjects/:id/payment-methods', 'post')) {
      return { skipped: 'POST /v1/subjects/{id}/payment-methods does not exist in this build yet; scenario skipped' };
    }
    const ids = ctx.smallIds();
    const expYear = new Date().getUTCFullYear() + 3;
    const baseline = await measureBaselineRead(ctx, ids);
    const load = await vaultLoad(ctx, ctx.vault, ctx.account, 'payment_methods:write', 'account_management', {
      method: 'POST',
      headers: JSON_TYPE,
      setupRequest: (req) => ({
        ...req,
        path: `/v1/subjects/${pick(ids)}/payment-methods`,
        body: JSON.stringify({ number: visaNumber(), exp_month: 12, exp_year: expYear, holder_name: 'Bench Member' }),
      }),
    });
    const ours = await measure('vault', 'vault: tokenize a card', load, loadSettings(ctx.options));
    return { measurements: [baseline, ours], targets: [], notes: ['no target set by the issue'] };
  },
};

export const tokenScenario: HttpScenario = {
  name: 'token',
  title: 'token issuance (POST /oauth/token, client_secret_basic)',
  async run(ctx) {
    const baseline = await measureBaselineRead(ctx, ctx.smallIds());
    const load = {
      url: loopbackUrl(ctx.vault.ready.port),
      pid: ctx.vault.ready.pid,
      settle: settler(ctx, ctx.vault),
      headers: { authorization: basicAuth(ctx.mailer), 'content-type': 'application/x-www-form-urlencoded' },
      request: { method: 'POST', path: '/oauth/token', body: tokenRequestBody('emails:resolve', 'transactional_email') },
    };
    const ours = await measure('vault', 'vault: POST /oauth/token', load, loadSettings(ctx.options));
    const { argon2Concurrency } = ctx.env.config.identity;
    return {
      measurements: [baseline, ours],
      targets: [],
      notes: [`no target set by the issue; each request verifies the client secret with argon2id (${argon2Concurrency} at a time)`],
    };
  },
};
