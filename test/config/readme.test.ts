import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

it("keeps the README's configuration table identical to the settings declaration", () => {
  const generated = execFileSync(process.execPath, ['-r', '@swc-node/register', 'scripts/config-table.ts'], { cwd: ROOT, encoding: 'utf8' });
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('<!-- config-table:start -->\n') + 28, readme.indexOf('<!-- config-table:end -->'));
  expect(table.trim()).toBe(generated.trim());
});
