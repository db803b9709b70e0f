import { isIP } from 'node:net';
import type { Request } from 'express';

/**
 * The address a request came from: the peer's, or, when the peer is a trusted proxy
 * (PDVAULT_TRUSTED_PROXIES, Express's `trust proxy`), the nearest untrusted address in
 * X-Forwarded-For. Entries there are only strings; one that is not an IP address is not taken
 * on trust, and the peer's address stands instead.
 */
export function clientAddress(req: Request): string {
  const forwarded = req.ip;
  if (forwarded !== undefined && isIP(forwarded) !== 0) return forwarded;
  return req.socket.remoteAddress ?? 'unknown';
}
