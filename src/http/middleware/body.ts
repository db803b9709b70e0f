import { isUtf8 } from 'node:buffer';
import { parse as parseContentType } from 'content-type';
import express, { type RequestHandler } from 'express';
import { badRequest, VaultError } from '../../errors/vault-error';
import { bodyRefusedByMethod, inviteBody } from './framing';
import { checkBodyValues, FORBIDDEN_KEYS, MAX_DEPTH, nestingTooDeep, reservedName } from './input-hygiene';
import { walkNames } from './repeated-names';
import type { BodyKind } from '../route-table';

const JSON_TYPES = ['application/json', 'application/*+json'];
const JSON_PATCH_TYPE = 'application/json-patch+json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * Bodies are JSON everywhere except the OAuth endpoints, which RFC 6749 makes form-encoded: each
 * route declares which (`BodyKind`).
 * A route's body is read only once the route has admitted the request (a /v1 route: its token
 * verified, its scope held), so a caller the vault refuses is never invited to send one, nor has
 * one parsed; what the request's head says of its body was checked before routing
 * (`requestHead`). A route that takes no body refuses one at its first byte, unread.
 * A body of any other type, in any charset but UTF-8 or under a Content-Type that does not parse
 * is refused with 415 before it is read; a body over the limit with 413 before it is parsed; a
 * body that is not valid UTF-8 with 400 `invalid_characters`; a JSON body that repeats a
 * property name within one object with 400 `duplicate_property`; NUL bytes, lone surrogates,
 * reserved names and nesting past MAX_DEPTH once parsed (`checkBodyValues`). One step of the
 * route's chain: a request without a body (most of them) passes at once, one with a body meets
 * only the parser for its type.
 */
export function bodyReader(limitBytes: number): (kind: BodyKind) => RequestHandler {
  // Found while the raw body is at hand, refused once it has parsed (an error thrown from body-parser's verify hook would become its 403).
  const refusals = new WeakMap<object, VaultError>();
  // body-parser reads zero bytes as {}: a chunked body with no chunk would pass for an empty
  // object where `Content-Length: 0` is no body at all. Both are no body.
  const empty = new WeakSet<object>();
  const json = express.json({
    limit: limitBytes,
    // Not strict: a bare `"x"` or `null` is JSON; the route's own schema refuses it as no object,
    // as it refuses `[]`, rather than the parser as no JSON at all.
    strict: false,
    type: JSON_TYPES,
    verify: (req, _res, raw) => {
      if (raw.length === 0) empty.add(req);
      const refusal = jsonRefusal(raw);
      if (refusal) refusals.set(req, refusal);
    },
  });
  const form = express.urlencoded({
    limit: limitBytes,
    extended: false,
    parameterLimit: 50,
    type: FORM_TYPE,
    verify: (req, _res, raw) => {
      if (!isUtf8(raw)) refusals.set(req, notUtf8());
      else if (!percentEncodingIsSound(raw)) refusals.set(req, badPercentEncoding());
      else {
        // The form parser drops `__proto__` silently; a reserved name is refused, here as in JSON.
        const reserved = formNames(raw).find((name) => FORBIDDEN_KEYS.has(name));
        if (reserved !== undefined) refusals.set(req, reservedName(`/${reserved}`));
      }
    },
  });
  const refuseAny: RequestHandler = (req, res, next) => {
    if (!hasBody(req)) {
      inviteBody(req, res);
      return next();
    }
    const refusal = bodyRefusedByMethod(req) ?? new VaultError('body_not_accepted', 400, 'This request takes no body', { detail: 'Send the request without one' });
    // A declared length is refused at once; a chunked body may turn out empty, so its first byte is awaited.
    if (req.headers['transfer-encoding'] === undefined) return next(refusal);
    expectNothing(req, res, refusal, next);
  };
  const read = (kind: 'json' | 'form'): RequestHandler => (req, res, next) => {
    if (!hasBody(req)) {
      inviteBody(req, res);
      return next();
    }
    const expected = kind === 'form' ? [FORM_TYPE] : JSON_TYPES;
    // A JSON Patch (RFC 6902) is a list of operations: an object sent under its type would be taken
    // for the document itself, a merge patch, which is not what its sender meant.
    if (!req.is(expected) || (kind === 'json' && req.is(JSON_PATCH_TYPE))) {
      return next(new VaultError('unsupported_media_type', 415, 'The request body must be ' + expected[0]));
    }
    // RFC 8259 §8.1: JSON between systems is UTF-8. body-parser would decode UTF-7 or UTF-16, which a filter in front of the vault reads differently.
    const parameters = mediaTypeParameters(req.headers['content-type'] ?? '');
    if (!parameters || (parameters.charset !== undefined && parameters.charset.toLowerCase() !== 'utf-8')) {
      return next(new VaultError('unsupported_media_type', 415, 'The request body must be encoded as UTF-8'));
    }
    inviteBody(req, res);
    const refuseRecorded = (error?: unknown) => {
      if (error) return next(error);
      const refusal = refusals.get(req);
      if (refusal) return next(refusal);
      if (empty.has(req)) {
        req.body = undefined;
        return next();
      }
      // In body-parser's callback: a refusal thrown here would escape Express, so it is handed on.
      try {
        checkBodyValues(req.body);
      } catch (invalid) {
        return next(invalid);
      }
      next();
    };
    if (kind === 'form') return form(req, res, refuseRecorded);
    json(req, res, refuseRecorded);
  };
  const readers = { json: read('json'), form: read('form'), none: refuseAny };
  return (kind) => readers[kind];
}

/**
 * A chunked body on a method that takes none (GET, DELETE), whatever its type: an empty one is
 * no body, the first byte of one is refused (and the rest discarded).
 */
function expectNothing(req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1], refusal: VaultError, next: Parameters<RequestHandler>[2]): void {
  inviteBody(req, res);
  const done = (error?: unknown) => {
    req.off('data', onData);
    req.off('end', done);
    req.off('error', done);
    next(error);
  };
  const onData = (chunk: Buffer) => {
    if (chunk.length === 0) return;
    done(refusal);
    // The rest is read and discarded, as Node does with a body nobody reads.
    req.resume();
  };
  req.on('data', onData);
  req.once('end', done);
  req.once('error', done);
}

function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  const length = req.headers['content-length'];
  // Node's parser has checked that a Content-Length is digits; `00` is no body either.
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) > 0);
}

// RFC 9110 §5.6.2, §5.6.4 and §8.3.1: a media type is token "/" token, then `; name=value` pairs whose value is a token or a quoted string.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED_STRING = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}`);
// Sticky, one parameter (or an empty one, `;;`) per match: a loop over it cannot backtrack.
const PARAMETER = new RegExp(`[ \\t]*;[ \\t]*(?:(${TOKEN})=(?:${TOKEN}|${QUOTED_STRING}))?`, 'y');

/**
 * The parameters of a Content-Type as body-parser reads them (it uses the same `content-type`
 * package); undefined when the header does not follow the grammar or names a parameter twice:
 * `content-type` reads such a header without complaint, and a filter in front of the vault may
 * read it differently.
 */
function mediaTypeParameters(header: string): Partial<Record<string, string>> | undefined {
  const text = header.trim();
  const type = MEDIA_TYPE.exec(text);
  if (!type) return undefined;
  const names = new Set<string>();
  PARAMETER.lastIndex = type[0].length;
  while (PARAMETER.lastIndex < text.length) {
    const parameter = PARAMETER.exec(text);
    if (!parameter) return undefined;
    const name = parameter[1]?.toLowerCase();
    if (name === undefined) continue;
    if (names.has(name)) return undefined;
    names.add(name);
  }
  return parseContentType(text).parameters;
}

/** The raw JSON body is UTF-8 and names each property once per object, or here is why not. */
function jsonRefusal(raw: Buffer): VaultError | undefined {
  if (!isUtf8(raw)) return notUtf8();
  // body-parser strips one byte order mark before it parses; the walk must read the same text.
  const text = raw.toString('utf8').replace(/^\uFEFF/, '');
  // A mark with nothing after it: body-parser would take it for `{}`, a body that was never sent.
  if (text.trim() === '' && raw.length > 0) return new VaultError('malformed_json', 400, 'The request body is not valid JSON');
  const walk = walkNames(text, MAX_DEPTH);
  switch (walk.outcome) {
    case 'repeated':
      return duplicateProperty(walk.pointer);
    case 'too_deep':
      return nestingTooDeep();
    case 'unreadable':
      // Refused only if JSON.parse accepts it (its own refusal comes first): a body whose names were not checked is not let through.
      return new VaultError('malformed_json', 400, 'The request body is not valid JSON');
    case 'unique':
      return undefined;
  }
}

// body-parser would decode such bytes as U+FFFD: the vault would store something other than what was sent.
const notUtf8 = () => badRequest('invalid_characters', 'The request body is not valid UTF-8');
const badPercentEncoding = () => badRequest('invalid_characters', 'The request body has bad percent-encoding: an escape that is not two hex digits, or bytes that are not UTF-8');

/** The parameter names of a form body (sound percent-encoding checked first), decoded as the form parser decodes them. */
function formNames(raw: Buffer): string[] {
  return raw
    .toString('utf8')
    .split('&')
    .map((pair) => decodeURIComponent(pair.split('=', 1)[0]!.replace(/\+/g, ' ')));
}

/**
 * Every `%` of a form body starts an escape of two hex digits, and the escapes spell UTF-8.
 * The form parser would keep `%zz` as it is and turn `%FF` into U+FFFD: a parameter the client
 * did not mean, answered as if it were (an unknown purpose, an ignored parameter).
 */
function percentEncodingIsSound(raw: Buffer): boolean {
  if (!raw.includes(0x25)) return true;
  for (const part of raw.toString('latin1').split(/[&=]/)) {
    try {
      decodeURIComponent(part);
    } catch {
      return false;
    }
  }
  return true;
}

const duplicateProperty = (pointer: string) =>
  new VaultError('duplicate_property', 400, 'The request body names a property twice in one object', {
    errors: [{ pointer, detail: 'A property may appear once; which of the two was meant is ambiguous' }],
  });
