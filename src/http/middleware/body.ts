import express, { type RequestHandler } from 'express';
import { VaultError } from '../../errors/vault-error';

const JSON_TYPES = ['application/json', 'application/*+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/**
 * Bodies are JSON everywhere except the OAuth endpoints, which RFC 6749 makes form-encoded.
 * A body of any other type or in any charset but UTF-8 is refused with 415 before it is read;
 * a body over the limit with 413 before it is parsed. One middleware, not a chain of three: a
 * request without a body (most of them) passes in one step, one with a body meets only the
 * parser for its type.
 */
export function bodyParser(limitBytes: number): RequestHandler {
  const json = express.json({ limit: limitBytes, strict: true, type: JSON_TYPES });
  const form = express.urlencoded({ limit: limitBytes, extended: false, parameterLimit: 50, type: FORM_TYPE });
  return (req, res, next) => {
    if (!hasBody(req)) return next();
    const oauth = req.path.startsWith('/oauth/');
    const expected = oauth ? [FORM_TYPE] : JSON_TYPES;
    if (!req.is(expected)) {
      return next(new VaultError('unsupported_media_type', 415, 'The request body must be ' + expected[0]));
    }
    // RFC 8259 §8.1: JSON between systems is UTF-8. body-parser would decode UTF-7 or UTF-16, which a filter in front of the vault reads differently.
    const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !['utf-8', 'utf8'].includes(charset.toLowerCase())) {
      return next(new VaultError('unsupported_media_type', 415, 'The request body must be encoded as UTF-8'));
    }
    (oauth ? form : json)(req, res, next);
  };
}

function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
