#!/usr/bin/env node
'use strict';
// The command line runs from the compiled build; `npm run build` (or `npm start`) makes it.
try {
  require.resolve('../dist/src/cli/main.js');
} catch {
  process.stderr.write('pdvault: not built yet; run `npm run build` first\n');
  process.exit(1);
}
require('../dist/src/cli/main.js');
