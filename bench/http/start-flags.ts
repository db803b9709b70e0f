import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/**
 * The node flags `npm start` runs the vault with (package.json's `start` script), so the
 * benchmark's vault runs under the same V8 settings as production. The Dockerfile's CMD and the
 * image check carry the same flags; a test holds the three together.
 */
export function startNodeFlags(): string[] {
  const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
  const words = scripts.start!.split(/\s+/);
  const node = words.indexOf('node');
  if (node < 0) throw new Error('package.json: the start script does not run node');
  const flags: string[] = [];
  for (const word of words.slice(node + 1)) {
    if (!word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}
