import type { Request } from 'express';
import { badRequest } from '../../errors/vault-error';

export const MAX_DEPTH = 32;
// Headers that mean one thing once. Node keeps the first Authorization or Content-Type and joins
// the rest, while a proxy in front may act on the last: a request that repeats one is ambiguous.
const SINGLE_HEADERS = new Set(['authorization', 'proxy-authorization', 'content-type', 'content-length', 'host', 'idempotency-key', 'if-match']);
// Keys that mean something to JavaScript objects rather than to the vault.
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Inputs no route should have to think about. In the head, before any route sees it: an
 * HTTP/1.1 request without Host, a header that must appear once appearing twice, a fragment in
 * the request target, NUL bytes and lone surrogates in the URL (PostgreSQL text cannot hold NUL; a lone surrogate is not Unicode).
 */
export function checkHead(req: Request): void {
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (the server lets it through to be answered here).
  if (req.httpVersion === '1.1' && req.headers.host === undefined) throw badRequest('bad_request', 'The request has no Host header');
  checkHeaders(req.rawHeaders);
  checkUrl(req.originalUrl);
}

/** In a parsed body: NUL bytes and lone surrogates, prototype-pollution keys, nesting deeper than any vault document. */
export function checkBodyValues(body: unknown): void {
  checkValue(body, '', 0);
}

function checkHeaders(rawHeaders: string[]): void {
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!SINGLE_HEADERS.has(name)) continue;
    if (seen.has(name)) throw badRequest('duplicate_header', 'The request repeats a header that may appear only once', { detail: `${name} appears more than once` });
    seen.add(name);
  }
}

// RFC 9112 §3.2.2: a server accepts a target in absolute-form too, which the router reads for its
// path. Only for https, and without userinfo, which RFC 9110 §4.2.4 has a recipient treat as an
// error: `ftp://x/v1/admin/clients` or `https://user:pass@x/…` names no resource of this vault.
const ABSOLUTE_HTTPS_TARGET = /^https:\/\/[^/?#@]+(?:[/?]|$)/i;

function checkUrl(url: string): void {
  // `*` (asterisk-form, RFC 9112 §3.2.4) goes on to routing, which serves no such resource.
  if (!url.startsWith('/') && url !== '*' && !ABSOLUTE_HTTPS_TARGET.test(url)) {
    throw badRequest('bad_request', 'The request target is no path of this vault', { detail: 'Send a path (/v1/…), or an https URL without userinfo' });
  }
  // RFC 9112 §3.2: a request target has no fragment. Node's parser lets `#` through and the
  // router drops it and all after it, query included: `/v1/subjects/sub_x#/payment-methods/pm_y`
  // would act on the subject, and a filter in front would see a path the vault does not serve.
  if (url.includes('#')) throw badRequest('bad_request', 'The request target holds a fragment (#)', { detail: 'A fragment is never sent; percent-encode a # that belongs to a value as %23' });
  let decoded: string;
  try {
    decoded = decodeURIComponent(url);
  } catch {
    throw badRequest('invalid_characters', 'The request URL is not valid UTF-8, or a % in it starts no percent-escape');
  }
  if (!isCleanString(decoded)) throw badRequest('invalid_characters', 'The request URL contains a NUL byte or a lone surrogate');
}

function checkValue(value: unknown, pointer: string, depth: number): void {
  if (depth > MAX_DEPTH) throw nestingTooDeep();
  if (typeof value === 'string') {
    if (!isCleanString(value)) {
      throw badRequest('invalid_characters', 'A string contains a NUL byte or a lone surrogate', {
        errors: [{ pointer, detail: 'NUL bytes and lone surrogates are not accepted' }],
      });
    }
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    const childPointer = `${pointer}/${escapePointer(key)}`;
    if (FORBIDDEN_KEYS.has(key)) throw reservedName(childPointer);
    if (!isCleanString(key)) {
      throw badRequest('invalid_characters', 'A property name contains a NUL byte or a lone surrogate');
    }
    checkValue(child, childPointer, depth + 1);
  }
}

export const nestingTooDeep = () =>
  badRequest('nesting_too_deep', 'The request body is nested too deeply', { detail: `More than ${MAX_DEPTH} levels of nesting` });

export function isCleanString(value: string): boolean {
  // String#isWellFormed is in Node 20's V8 but not in the ES2023 typings.
  return !value.includes('\u0000') && (value as string & { isWellFormed(): boolean }).isWellFormed();
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export const reservedName = (pointer: string) =>
  badRequest('forbidden_property', 'The request body uses a reserved property name', {
    errors: [{ pointer, detail: 'This property name is not accepted' }],
  });
