#!/usr/bin/env bash
# Rewrites the configuration table in README.md from src/config/settings.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(npm run -s config:doc)
TABLE="$table" python3 - <<'PY'
import os
s = open('README.md').read()
start, end = '<!-- config-table:start -->\n', '<!-- config-table:end -->'
a, b = s.index(start) + len(start), s.index(end)
open('README.md', 'w').write(s[:a] + os.environ['TABLE'] + '\n' + s[b:])
PY
