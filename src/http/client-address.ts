import { isIP } from 'node:net';
import type { Request } from 'express';

/**
 * The address a request came from: the peer's, or, when the peer is a trusted proxy
 * (PDVAULT_TRUSTED_PROXIES, Express's `trust proxy`), the nearest untrusted address in
 * X-Forwarded-For. Entries there are only strings: one that is not an address, even with its
 * port taken off, is not taken on trust, and the peer's address stands instead.
 */
export function clientAddress(req: Request): string | undefined {
  // Without the header there is nothing to trust or not: the peer it is, without Express's proxy walk.
  if (req.headers['x-forwarded-for'] === undefined) return req.socket.remoteAddress;
  const forwarded = req.ip === undefined ? undefined : bareAddress(req.ip);
  return forwarded ?? req.socket.remoteAddress;
}

/**
 * An address as proxies write it, bare (`203.0.113.9`), with a port (`203.0.113.9:51234`) or
 * bracketed (`[2001:db8::1]:443`), reduced to the bare address. A zone (`fe80::1%eth0`) names
 * an interface of the proxy, not the client, and is dropped. Anything else is undefined.
 */
function bareAddress(text: string): string | undefined {
  const bracketed = /^\[([^\]]{1,64})\](?::\d{1,5})?$/.exec(text);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  const address = (bracketed?.[1] ?? withPort?.[1] ?? text).replace(/%.*$/s, '');
  return isIP(address) !== 0 ? address : undefined;
}
