import crypto from 'node:crypto';
import type { Request, Response } from 'express';

// A caller's id is kept only if it cannot carry anything but an id (no log injection).
const ACCEPTABLE_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Gives the request its id (the caller's, when it can only be an id) and answers with it. */
export function assignRequestId(req: Request, res: Response): void {
  const offered = req.get('x-request-id');
  // randomUUID draws from a batch of entropy it keeps; randomBytes asks the generator on every call.
  req.requestId = offered && ACCEPTABLE_ID.test(offered) ? offered : `req_${crypto.randomUUID().replaceAll('-', '')}`;
  res.setHeader('X-Request-Id', req.requestId);
}
