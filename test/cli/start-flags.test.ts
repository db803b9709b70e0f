import fs from 'node:fs';
import path from 'node:path';
import { startNodeFlags } from '../../bench/http/start-flags';

const root = path.join(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

/** The words between `node` and the entry point in the Dockerfile's final CMD (exec form). */
function imageCmdFlags(): string[] {
  const cmd = [...read('Dockerfile').matchAll(/^CMD (\[.*\])$/gm)].at(-1);
  if (!cmd) throw new Error('the Dockerfile has no exec-form CMD');
  const words = JSON.parse(cmd[1]!) as string[];
  expect(words[0]).toBe('node');
  return words.slice(1, words.indexOf('dist/src/cli/main.js'));
}

/** The flags the image check starts the runtime stage with. */
function imageCheckFlags(): string[] {
  const start = /^\s*node ((?:--\S+ )*)dist\/src\/cli\/main\.js start/m.exec(read('scripts/check-image-steps.sh'));
  if (!start) throw new Error('scripts/check-image-steps.sh does not start dist/src/cli/main.js');
  return start[1]!.split(' ').filter(Boolean);
}

describe('the node flags the vault runs with', () => {
  it('give V8 a young generation large enough for the request rate (64 MiB semi-spaces)', () => {
    expect(startNodeFlags()).toContain('--max-semi-space-size=64');
  });

  it('keep the old generation within half again of what the vault holds, so RSS settles instead of climbing under load', () => {
    expect(startNodeFlags()).toContain('--heap-growing-percent=50');
  });

  it('are the same for npm start, the image and the image check', () => {
    expect(imageCmdFlags()).toEqual(startNodeFlags());
    expect(imageCheckFlags()).toEqual(startNodeFlags());
  });
});
