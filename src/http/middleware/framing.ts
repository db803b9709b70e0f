import type { Request, RequestHandler, Response } from 'express';
import { VaultError } from '../../errors/vault-error';
import { checkHead } from './input-hygiene';

/** Header fields a request may carry; Node's parser is told to keep them all, so none is dropped unseen. */
export const MAX_HEADER_FIELDS = 100;
// No route of these methods reads a body (openapi.yaml declares none): one sent is refused, not ignored.
const BODILESS_METHODS = new Set(['GET', 'HEAD', 'DELETE']);

/**
 * What the request's head says that the vault will not go along with, found before a byte of
 * the body is read:
 * - an HTTP version other than 1.1 or 1.0 (505, RFC 9110 §15.6.6);
 * - more than MAX_HEADER_FIELDS header fields (431: past a count, Node would drop the rest
 *   silently, a second Authorization among them, which a proxy in front may act on);
 * - an expectation other than `100-continue` (417; Node would answer a bare 417 of its own);
 * - a transfer coding other than `chunked` alone (400 and the connection closed when the body's
 *   length cannot be told, below; else 501, RFC 9112 §6.1: Node's parser reads `gzip, chunked`
 *   as chunked and would hand on compressed bytes as the body);
 * - a declared length over the limit (413 at once: the body parser says so only after the
 *   whole declared body has arrived, or the request timeout has passed);
 * - a body declared on GET, HEAD or DELETE (400: ignored, `DELETE` with a body would erase a
 *   subject whatever the body said). A chunked one may be empty: the body parser reads it up to
 *   its first byte.
 */
export function framingRefusal(req: Request, limitBytes: number): VaultError | undefined {
  // Node's parser also takes `HTTP/2.0` in a request line, and a line with no version at all
  // (HTTP/0.9), and the checks that ask for 1.1 (Host, Expect) would pass them by.
  if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') {
    return new VaultError('http_version_not_supported', 505, 'The vault speaks HTTP/1.1 (and answers HTTP/1.0)');
  }
  if (req.rawHeaders.length > 2 * MAX_HEADER_FIELDS) {
    return new VaultError('headers_too_large', 431, 'The request has more header fields than the vault accepts', { detail: `At most ${MAX_HEADER_FIELDS}` });
  }
  const expect = req.headers.expect;
  // RFC 9110 §10.1.1: an HTTP/1.0 client's expectation is ignored.
  if (expect !== undefined && req.httpVersion === '1.1' && expect.toLowerCase() !== '100-continue') {
    return new VaultError('expectation_failed', 417, 'The vault meets no expectation but 100-continue');
  }
  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined) {
    const refusal = transferCodingRefusal(req.httpVersion, coding);
    if (refusal) return refusal;
  }
  // Node's parser has checked that a Content-Length is digits.
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) {
    return new VaultError('body_too_large', 413, 'The request body is larger than the vault accepts', { detail: `At most ${limitBytes} bytes` });
  }
  return declared > 0 ? bodyRefusedByMethod(req) : undefined;
}

/**
 * RFC 9112 §6.1 and §6.3: a body whose length cannot be told for certain (an HTTP/1.0 request
 * with Transfer-Encoding, or one whose last coding is not chunked) is refused with 400 and its
 * connection closed, since where the next request starts is no longer known: read on, it is the
 * shape of request smuggling. A chunked body with another coding before it is framed, but not
 * understood: 501, and the connection may go on.
 */
function transferCodingRefusal(httpVersion: string, coding: string): VaultError | undefined {
  // Node joins repeated Transfer-Encoding lines with commas. An empty element (`chunked, `, a
  // second line left empty) is refused, not skipped: a proxy in front that reads the last line
  // alone would find no framing where the vault found chunked.
  const codings = coding.split(',').map((name) => name.trim().toLowerCase());
  const unframed = (detail: string) => new VaultError('bad_request', 400, 'The request body\'s length cannot be told from its head', { detail, headers: { Connection: 'close' } });
  if (httpVersion === '1.0') return unframed('HTTP/1.0 has no Transfer-Encoding: send the body with Content-Length');
  if (codings.includes('')) return unframed('Transfer-Encoding names an empty coding; send chunked alone, on one line');
  // Node's own parser refuses most of these before the vault sees them; this holds whatever it lets through.
  if (codings.at(-1) !== 'chunked') return unframed('chunked must be the last transfer coding; send the body with Content-Length or chunked alone');
  if (codings.length === 1) return undefined;
  return new VaultError('transfer_coding_not_implemented', 501, 'The vault accepts no transfer coding but chunked', {
    detail: 'Send the body with Content-Length or chunked alone; a compressed body goes with Content-Encoding',
  });
}

/**
 * Every request's head, before routing: the framing refusals above, then the head's input
 * hygiene (`checkHead`). A refused request's body is never read: Node discards what arrives of it
 * afterwards, so a client that sends its whole body before it reads (most do) gets the answer, not
 * a reset.
 */
export function requestHead(limitBytes: number): RequestHandler {
  return (req, res, next) => {
    // The vault upgrades to no other protocol. Node's parser stops reading a connection after a
    // request asking for one, so a request pipelined behind it would never be answered: the
    // answer, whatever it is, closes the connection instead, and the client opens a new one.
    if (req.headers.upgrade !== undefined) res.setHeader('Connection', 'close');
    const refusal = framingRefusal(req, limitBytes);
    if (refusal) {
      // Set here, not only with the problem: an OAuth endpoint answers in RFC 6749's form, and a
      // failed audit write answers 503, and neither must keep a connection of unknown framing.
      if (refusal.headers?.Connection === 'close') res.setHeader('Connection', 'close');
      return next(refusal);
    }
    checkHead(req);
    next();
  };
}

/** 400 `body_not_accepted` for a body on a method that takes none; undefined for any other method. */
export function bodyRefusedByMethod(req: Request): VaultError | undefined {
  if (!BODILESS_METHODS.has(req.method)) return undefined;
  return new VaultError('body_not_accepted', 400, `A ${req.method} request carries no body`, { detail: 'Send the request without one' });
}

/**
 * A client waiting for `100 Continue` is told to send its body only once the vault means to read
 * it (or at once, when it announced none: unanswered, Node would close the connection after the
 * response). RFC 9110 §10.1.1: an HTTP/1.0 client's expectation is ignored.
 */
export function inviteBody(req: Request, res: Response): void {
  if (req.headers.expect !== undefined && req.httpVersion === '1.1') res.writeContinue();
}
