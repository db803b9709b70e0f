import type { Request } from 'express';
import { clientAddress } from './client-address';

/** Where a request came from, as audit events record it: the request id and the client's address. */
export function accessContextOf(req: Request): { requestId: string; sourceAddress?: string } {
  return { requestId: req.requestId, sourceAddress: clientAddress(req) };
}
