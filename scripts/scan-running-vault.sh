#!/usr/bin/env bash
# Starts a development vault (embedded PostgreSQL, generated certificate) in a temporary data
# folder on a free port, scans it with scripts/tls-scan.sh, and stops it. Used by .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$(mktemp -d)
chmod 711 "$data"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
pgport=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
cleanup() { [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

cd "$root"
env -u DATABASE_URL PDVAULT_DATA_DIR="$data" PDVAULT_PORT="$port" PDVAULT_EMBEDDED_PG_PORT="$pgport" \
  node dist/src/cli/main.js start > "$data/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  grep -q 'listening on' "$data/out.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/out.log"; exit 1; }
  sleep 1
done
bash scripts/tls-scan.sh "127.0.0.1:$port" "$data/tls/cert.pem"
