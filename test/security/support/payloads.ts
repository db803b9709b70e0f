import type { Fixtures, Operation } from './attack-surface';

/** Text that would forge a log line, colour a terminal or close a JSON log record if it reached a log raw. */
export const LOG_MARKER = 'FORGED-LOG-7f3a';
export const LOG_INJECTIONS = [
  `x\r\n{"level":"fatal","msg":"${LOG_MARKER}"}`,
  `x\n${LOG_MARKER}: admin logged in`,
  `\u001b[31m${LOG_MARKER}\u001b[0m`,
  `\u001b]0;${LOG_MARKER}\u0007`,
];
/** Printable, so a field may legitimately hold it: it must be stored as sent or refused, never executed. */
export const JSON_FRAGMENTS = [`"},"level":"fatal","msg":"${LOG_MARKER}`, `{"$where":"1==1"}`, `]}]}`];
export const SQL_INJECTIONS = [
  "' OR '1'='1",
  "1; DROP TABLE subjects; --",
  "sub_x' UNION SELECT secret_hash FROM clients --",
  "\\'; SELECT pg_sleep(0); --",
  '$$; DELETE FROM payment_methods; $$',
  '%27%20OR%201%3D1',
];
export const NASTY_TEXT = [...SQL_INJECTIONS, ...JSON_FRAGMENTS, ...LOG_INJECTIONS, '\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\u202eevil', '../../etc/passwd'];

/** A raw JSON text and what it is, for bodies the vault must refuse whatever route they reach. */
export interface RawBody {
  label: string;
  text: string;
  contentType?: string;
}

const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** Refused before any route runs: by the parser, the size limit or input hygiene. */
export function universallyRefusedBodies(limitBytes: number): RawBody[] {
  return [
    { label: 'malformed JSON', text: '{"name": x' },
    { label: 'truncated JSON', text: '{"name":' },
    { label: 'a trailing comma', text: '{"name":"a",}' },
    { label: 'a bare string', text: '"just a string"' },
    { label: 'a bare number', text: '12345678901234567890' },
    { label: 'null', text: 'null' },
    { label: 'arrays nested 5,000 deep', text: '['.repeat(5000) + ']'.repeat(5000) },
    { label: 'objects nested 2,000 deep', text: nested(2000) },
    { label: 'a __proto__ key', text: '{"__proto__":{"isAdmin":true}}' },
    { label: 'a nested constructor.prototype', text: '{"name":"a","x":{"constructor":{"prototype":{"isAdmin":true}}}}' },
    { label: 'a __proto__ key inside an array', text: '{"subject_ids":[{"__proto__":{"polluted":1}}]}' },
    { label: 'a NUL in a string', text: '{"name":"Jo\\u0000Example"}' },
    { label: 'a NUL in a property name', text: '{"na\\u0000me":"x"}' },
    { label: 'a lone high surrogate', text: '{"name":"\\ud800"}' },
    { label: 'a lone low surrogate in a property name', text: '{"\\udc00":"x"}' },
    { label: 'a string over the body limit', text: JSON.stringify({ name: 'x'.repeat(limitBytes + 1) }) },
    { label: 'an array over the body limit', text: '[' + Array(Math.ceil(limitBytes / 2)).fill('1').join(',') + ']' },
    { label: 'a body that is not JSON', text: 'name=x', contentType: 'text/plain' },
    { label: 'JSON in a charset the vault does not read', text: '{"name":"x"}', contentType: 'application/json; charset=utf-7' },
    { label: 'a form body on a JSON route', text: 'name=x&scopes=admin%3Aclients', contentType: 'application/x-www-form-urlencoded' },
  ];
}

/** A body each JSON operation accepts, so a single changed property is what the vault has to refuse. */
export function validBody(op: Operation, fixtures: Fixtures): Record<string, unknown> {
  const year = new Date().getUTCFullYear() + 2;
  switch (op.label) {
    case 'POST /v1/subjects':
      return { external_id: 'acct-attack', email: 'attack.base@example.com', name: 'Base Subject', phone: '+442071838750', postal_address: { line1: '1 Main St', city: 'London', country: 'GB' }, birth_date: '1990-01-01' };
    case 'PATCH /v1/subjects/{id}':
      return { name: 'Patched Name' };
    case 'PUT /v1/subjects/{id}/preferences':
      return { newsletter: false };
    case 'POST /v1/subjects/search':
      return { email: 'nobody@example.com' };
    case 'POST /v1/emails/resolve':
      return { subject_ids: [fixtures.subjectId] };
    case 'POST /v1/subjects/{id}/payment-methods':
      return { number: '5555555555554444', exp_month: 12, exp_year: year, holder_name: 'Base Holder' };
    case 'POST /v1/admin/clients':
      return { name: 'attack-base', kind: 'contractor', scopes: ['subjects:read'], purposes: ['shipping'], expires_at: new Date(Date.now() + 86_400_000).toISOString() };
    case 'PATCH /v1/admin/clients/{id}':
      return { scopes: ['subjects:read'] };
    case 'POST /v1/admin/approvals':
      return { subject_id: fixtures.subjectId, client_id: fixtures.client.clientId, justification: 'A court order, case 1234', expires_at: new Date(Date.now() + 3_600_000).toISOString() };
    default:
      return {};
  }
}

/** Values of the wrong type for a property declared as a string: each must be refused, not coerced. */
export const NOT_STRINGS: Array<[string, string]> = [
  ['a number', '12345'],
  ['a 19-digit number', '4000056655665556000'],
  ['a number too large for a double', '1e400'],
  ['a boolean', 'true'],
  ['an object', '{"toString":"x"}'],
  ['an array of the value', '["x"]'],
];

/** Values of the wrong shape for a property declared as a list of strings. */
export const NOT_STRING_LISTS: Array<[string, string]> = [
  ['a string instead of a list', '"sub_AAAAAAAAAAAAAAAAAAAAAA"'],
  ['a list of numbers', '[1, 2]'],
  ['a list holding a 19-digit number', '[4000056655665556000]'],
  ['a list of objects', '[{"id":"x"}]'],
  ['a list of lists', '[["x"]]'],
  ['an object', '{"0":"x"}'],
];

/** Replaces one property of a valid body with raw JSON text, so numbers reach the vault exactly as written. */
export function withRawProperty(body: Record<string, unknown>, name: string, rawValue: string): string {
  const placeholder = `"@@raw-${name}@@"`;
  return JSON.stringify({ ...body, [name]: `@@raw-${name}@@` }).replace(placeholder, rawValue);
}
