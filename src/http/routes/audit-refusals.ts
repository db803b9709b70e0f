import type { ErrorRequestHandler } from 'express';
import type { AuditSink } from '../../audit/writer';
import { VaultError } from '../../errors/vault-error';
import { PolicyDenial } from '../../policy/decision';
import { accessContextOf } from '../access-context';

/** Refusals made before any policy decision, which the decision point would have recorded. */
const REFUSALS = new Set(['insufficient_scope', 'scope_not_delegable', 'client_not_manageable']);

/**
 * An authenticated caller refused at one of these routes (a missing scope, an admin scope it
 * may not hand out, a client above its authority) is an access decision too, and goes into the
 * trail before the 403 is sent.
 */
export function auditRefusals(audit: AuditSink, action: string): ErrorRequestHandler {
  return async (error, req, _res, next) => {
    // A decision's refusal is in the trail already. (A router is not an error handler: an error
    // leaving one never reaches another router's refusals, so nothing is recorded twice.)
    if (error instanceof VaultError && REFUSALS.has(error.code) && req.principal && !(error instanceof PolicyDenial)) {
      const { requestId, sourceAddress } = accessContextOf(req);
      await audit.append([
        { action, outcome: 'denied', reason: error.code, clientId: req.principal.clientId, scopes: req.principal.scopes, requestId, sourceAddress },
      ]);
    }
    next(error);
  };
}
