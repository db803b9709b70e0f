import fs from 'node:fs';
import path from 'node:path';
import { DENIAL_REASONS } from '../../src/policy/vocabulary';
import { problemCodes } from '../support/openapi';

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

// Comments left out: a code named only in a comment is no code the vault answers with.
const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
const files = sourceFiles(SRC).map((file) => ({ file: path.relative(SRC, file), text: withoutComments(fs.readFileSync(file, 'utf8')) }));
const source = files.map((f) => f.text).join('\n');

// The factories that pass a code along (each called with a literal, which the scan below sees),
// and the policy's denial, whose codes are DENIAL_REASONS.
const FACTORIES = ['errors/vault-error.ts', 'identity/oauth-error.ts', 'policy/decision.ts'];

/** Every code the source gives a problem, with its status where the source states it beside it. */
function codesInSource(): Array<{ code: string; status: string | undefined }> {
  const found: Array<{ code: string; status: string | undefined }> = [];
  for (const match of source.matchAll(/(?:VaultError|PolicyDenial|super)\(\s*'([a-z_]+)',\s*(\d{3})/g)) found.push({ code: match[1]!, status: match[2] });
  for (const match of source.matchAll(/status: (\d{3}), code: '([a-z_]+)'/g)) found.push({ code: match[2]!, status: match[1] });
  for (const match of source.matchAll(/badRequest\(\s*'([a-z_]+)'/g)) found.push({ code: match[1]!, status: '400' });
  for (const match of source.matchAll(/(?<![a-zA-Z])unavailable\(\s*'([a-z_]+)'/g)) found.push({ code: match[1]!, status: '503' });
  // The argon2 queue's refusal reaches the admin routes too; at 429 it is the token endpoint's alone.
  if (/temporarilyUnavailable\(\s*503/.test(source)) found.push({ code: 'temporarily_unavailable', status: '503' });
  for (const reason of DENIAL_REASONS) found.push({ code: reason, status: '403' });
  return found;
}

describe('the catalogue of problem codes in openapi.yaml', () => {
  it('can see every code: each error names its code and status as literals, but in the factories', () => {
    const hidden = files
      .filter(({ file }) => !FACTORIES.includes(file))
      .flatMap(({ file, text }) => [...text.matchAll(/new (?:VaultError|OAuthError|PolicyDenial)\(\s*(?=\S)(?!'[a-z_]+',\s*\d{3}\b)[^)]{0,40}/g)].map((m) => `${file}: ${m[0]}`));
    expect(hidden).toEqual([]);
  });

  it('names every code the source answers with, under its status', () => {
    const missing = codesInSource().filter(({ code, status }) => !Object.hasOwn(problemCodes[status!] ?? {}, code));
    expect(missing).toEqual([]);
  });

  it('names no code the source never gives', () => {
    const catalogued = Object.values(problemCodes).flatMap((codes) => Object.keys(codes));
    expect(catalogued.filter((code) => !source.includes(`'${code}'`))).toEqual([]);
  });

  it('says what each code means', () => {
    for (const codes of Object.values(problemCodes)) for (const meaning of Object.values(codes)) expect(meaning.length).toBeGreaterThan(5);
  });
});
