#!/usr/bin/env bash
# Starts a development vault (embedded PostgreSQL, generated certificate) in a temporary data
# folder on a free port, as the README does (`npm start`, already built), scans it with
# scripts/tls-scan.sh, and stops it with a SIGTERM to npm's process: the vault must stop with
# it, not be left running. Used by .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$(mktemp -d)
chmod 711 "$data"
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
listening() { node -e "const c=require('net').connect(+process.argv[1],'127.0.0.1');c.on('connect',()=>process.exit(0));c.on('error',()=>process.exit(1))" "$1"; }
port=$(free_port)
pgport=$(free_port)
# npm runs in a process group of its own, so whatever it leaves behind can be stopped too.
# (Usually gone by then: a failed kill must not become the script's exit status.)
cleanup() {
  if [ -n "${pid:-}" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

cd "$root"
env -u DATABASE_URL PDVAULT_DATA_DIR="$data" PDVAULT_PORT="$port" PDVAULT_EMBEDDED_PG_PORT="$pgport" \
  setsid npm run start --ignore-scripts > "$data/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  grep -q 'listening on' "$data/out.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/out.log"; exit 1; }
  sleep 1
done
bash scripts/tls-scan.sh "127.0.0.1:$port" "$data/tls/cert.pem"

kill -TERM "$pid"
for _ in $(seq 1 30); do
  listening "$port" || listening "$pgport" || break
  sleep 1
done
if listening "$port" || listening "$pgport"; then
  echo "the vault or its PostgreSQL was still running 30 s after npm start got SIGTERM"
  exit 1
fi
echo "npm start stopped the vault and its PostgreSQL on SIGTERM"
