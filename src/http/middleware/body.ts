import express, { type RequestHandler } from 'express';
import { VaultError } from '../../errors/vault-error';
import { firstRepeatedName } from './repeated-names';

const JSON_TYPES = ['application/json', 'application/*+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/**
 * Bodies are JSON everywhere except the OAuth endpoints, which RFC 6749 makes form-encoded.
 * A body of any other type or in any charset but UTF-8 is refused with 415 before it is read;
 * a body over the limit with 413 before it is parsed; a JSON body that repeats a
 * property name within one object with 400 `duplicate_property`. One middleware, not a chain of three: a
 * request without a body (most of them) passes in one step, one with a body meets only the
 * parser for its type.
 */
export function bodyParser(limitBytes: number): RequestHandler {
  // Found while the raw body is at hand, refused once it has parsed (an error thrown from body-parser's verify hook would become its 403).
  const repeatedNames = new WeakMap<object, string>();
  const json = express.json({
    limit: limitBytes,
    strict: true,
    type: JSON_TYPES,
    verify: (req, _res, raw) => {
      const pointer = repeatedNameIn(raw);
      if (pointer !== undefined) repeatedNames.set(req, pointer);
    },
  });
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
    if (oauth) return form(req, res, next);
    json(req, res, (error?: unknown) => {
      if (error) return next(error);
      const pointer = repeatedNames.get(req);
      if (pointer !== undefined) return next(duplicateProperty(pointer));
      next();
    });
  };
}

function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The charset is known to be UTF-8 by then. Text too deep to walk is left to the parser and the nesting limit. */
function repeatedNameIn(raw: Buffer): string | undefined {
  try {
    return firstRepeatedName(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

const duplicateProperty = (pointer: string) =>
  new VaultError('duplicate_property', 400, 'The request body names a property twice in one object', {
    errors: [{ pointer, detail: 'A property may appear once; which of the two was meant is ambiguous' }],
  });
