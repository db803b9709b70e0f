#!/usr/bin/env bash
# Performs the Dockerfile's steps without a Docker engine: the production install and build in
# a clean copy of the sources, then the runtime stage's contents started in production mode,
# answered through the image's own HEALTHCHECK command. Needs DATABASE_URL (a PostgreSQL the
# check may create a scratch database on).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${DATABASE_URL:?DATABASE_URL must name a PostgreSQL server for the image check}"
work=$(mktemp -d)
chmod 711 "$work"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; [ -n "${KEEP_IMAGE_CHECK:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

echo "image check: build stage (npm ci, build, prune) in $work/build"
mkdir -p "$work/build"
( cd "$root" && cp package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json "$work/build/" && cp -r src migrations "$work/build/" )
( cd "$work/build" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null && npm rebuild argon2 >/dev/null && npm run build >/dev/null && npm prune --omit=dev --ignore-scripts >/dev/null )

echo "image check: runtime stage in $work/app"
mkdir -p "$work/app"
cp -r "$work/build/node_modules" "$work/build/dist" "$work/app/"
cp "$root/package.json" "$root/openapi.yaml" "$work/app/"
cp -r "$root/bin" "$work/app/"
[ ! -d "$work/app/node_modules/typescript" ] || { echo "image check: typescript (a dev dependency) reached the runtime stage"; exit 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")

# The runtime stage's ENV and CMD, as the Dockerfile gives them. There is no KMS here, so the
# check (only) allows the local keyring explicitly; the image itself defaults to AWS KMS.
cd "$work/app"
mkdir -p "$work/data"
# The migration job as the README gives it: the image's command, in production mode, with the
# database and key settings and no TLS files (it opens no listener).
env -i PATH="$PATH" HOME="$work" NODE_ENV=production PDVAULT_MODE=production DATABASE_URL="$DATABASE_URL" \
  PDVAULT_KEY_PROVIDER=local PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION=true PDVAULT_DATA_DIR="$work/data" \
  node dist/src/cli/main.js migrate > "$work/migrate.log" 2>&1 || { echo "image check: the migration step failed"; cat "$work/migrate.log"; exit 1; }
echo "image check: migrations applied as a separate step ($(tail -1 "$work/migrate.log" | cut -c1-60))"
env -i PATH="$PATH" HOME="$work" NODE_ENV=production PDVAULT_MODE=production PDVAULT_HOST=127.0.0.1 PDVAULT_PORT="$port" \
  DATABASE_URL="$DATABASE_URL" PDVAULT_TLS_CERT_FILE="$work/cert.pem" PDVAULT_TLS_KEY_FILE="$work/key.pem" \
  PDVAULT_KEY_PROVIDER=local PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION=true PDVAULT_DATA_DIR="$work/data" PDVAULT_MIGRATE_ON_START=false \
  node --max-semi-space-size=64 --heap-growing-percent=50 dist/src/cli/main.js start > "$work/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  if env -i PATH="$PATH" PDVAULT_MODE=production PDVAULT_PORT="$port" DATABASE_URL=postgres://unused/unused PDVAULT_TLS_CERT_FILE=x PDVAULT_TLS_KEY_FILE=x \
      node dist/src/cli/healthcheck.js; then
    echo "image check: HEALTHCHECK passed on port $port"
    kill -TERM "$pid"; status=0; wait "$pid" || status=$?; pid=
    [ "$status" = 0 ] || { echo "image check: exit status $status after SIGTERM"; cat "$work/out.log"; exit 1; }
    echo "image check: stopped cleanly on SIGTERM"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
echo "image check: the service did not become healthy"; cat "$work/out.log"; exit 1
