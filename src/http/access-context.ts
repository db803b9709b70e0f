import type { Request } from 'express';

/** Where a request came from, as audit events record it: the request id and the peer address. */
export function accessContextOf(req: Request): { requestId: string; sourceAddress?: string } {
  return { requestId: req.requestId, sourceAddress: req.socket.remoteAddress };
}
