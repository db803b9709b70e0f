import type { ErrorRequestHandler } from 'express';
import type { AuditSink } from '../../audit/writer';
import { VaultError } from '../../errors/vault-error';
import { accessContextOf } from '../access-context';

/**
 * An authenticated caller refused at one of these routes (a missing scope) is an access
 * decision too, and goes into the trail before the 403 is sent.
 */
export function auditRefusals(audit: AuditSink, action: string): ErrorRequestHandler {
  return async (error, req, _res, next) => {
    if (error instanceof VaultError && error.code === 'insufficient_scope' && req.principal) {
      const { requestId, sourceAddress } = accessContextOf(req);
      await audit.append([
        { action, outcome: 'denied', reason: error.code, clientId: req.principal.clientId, scopes: req.principal.scopes, requestId, sourceAddress },
      ]);
    }
    next(error);
  };
}
