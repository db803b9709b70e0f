import crypto from 'node:crypto';
import luhn from 'card-validator/dist/luhn-10';
import type { Request, Response } from 'express';

// A caller's id is echoed and logged only if it can carry nothing but an id: a UUID, a vault
// request id, or 16 to 64 hex digits with at least one letter. No log injection, and no
// personal value either (a phone or card number is digits only; a name is not hex).
const ACCEPTABLE_ID = /^(?:req_[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?=[0-9]*[a-f])[0-9a-f]{16,64})$/i;

// ... nor a card number beside hex letters or dashes (`4242424242424242abc`): with the dashes
// taken out, no run of 20 digits or more, and no 12 to 19 of a run's digits that pass the Luhn
// check. A random hex id rarely holds one; it is then not echoed, nothing worse.
const DIGIT_RUNS = /\d{12,}/g;
function holdsCardNumber(id: string): boolean {
  for (const [run] of id.replaceAll('-', '').matchAll(DIGIT_RUNS)) {
    if (run.length >= 20) return true;
    for (let length = 12; length <= run.length; length++) {
      for (let start = 0; start + length <= run.length; start++) if (luhn(run.slice(start, start + length))) return true;
    }
  }
  return false;
}

/**
 * Gives the request an id of the vault's own and answers with it. The id ties a request's audit
 * events together, so a caller may not choose it (reuse another request's, or put a phone number
 * in the trail); an id the caller sent is echoed as X-Correlation-Id and logged beside it.
 */
export function assignRequestId(req: Request, res: Response): void {
  // randomUUID draws from a batch of entropy it keeps; randomBytes asks the generator on every call.
  req.requestId = `req_${crypto.randomUUID().replaceAll('-', '')}`;
  res.setHeader('X-Request-Id', req.requestId);
  const offered = req.get('x-request-id');
  if (offered && ACCEPTABLE_ID.test(offered) && !holdsCardNumber(offered)) {
    req.correlationId = offered;
    res.setHeader('X-Correlation-Id', offered);
  }
}
