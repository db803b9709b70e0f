#!/usr/bin/env bash
# Scans a running vault with sslscan (Debian's package) and fails on anything the vault's TLS
# policy forbids: SSLv2/SSLv3/TLS 1.0/TLS 1.1, a CBC or other non-AEAD suite, a suite without
# forward secrecy, or a response without the HSTS header.
# Usage: scripts/tls-scan.sh HOST:PORT CA_FILE
set -euo pipefail
target=${1:?usage: tls-scan.sh HOST:PORT CA_FILE}
ca=${2:?usage: tls-scan.sh HOST:PORT CA_FILE}
command -v sslscan >/dev/null || { echo "tls-scan: sslscan is not installed (apt-get install sslscan)"; exit 2; }

report=$(sslscan --no-colour --no-heartbleed --no-compression "$target")
echo "$report" | sed -n '/SSL\/TLS Protocols/,/Server Key Exchange/p'
failures=()

for protocol in SSLv2 SSLv3 TLSv1.0 TLSv1.1; do
  if echo "$report" | grep -Eq "^${protocol//./\\.} +enabled"; then failures+=("$protocol is enabled"); fi
done
echo "$report" | grep -Eq '^TLSv1\.3 +enabled' || failures+=("TLS 1.3 is not enabled")

# Every accepted suite must be AEAD (GCM or ChaCha20-Poly1305) and, below TLS 1.3, ECDHE or DHE.
while read -r _ protocol _ _ cipher _; do
  case "$cipher" in
    TLS_AES_*_GCM_*|TLS_CHACHA20_POLY1305_*) ;;
    ECDHE-*-GCM-*|ECDHE-*-CHACHA20-POLY1305|DHE-*-GCM-*|DHE-*-CHACHA20-POLY1305) ;;
    *) failures+=("$protocol suite $cipher is not one of the allowed forward-secret AEAD suites") ;;
  esac
done < <(echo "$report" | grep -E '^(Preferred|Accepted) ')
[ "$(echo "$report" | grep -cE '^(Preferred|Accepted) ')" -gt 0 ] || failures+=("no accepted suite found: did the scan reach the vault?")

# HSTS on an ordinary response (a 404 is as ordinary as any).
hsts=$(node -e '
  const https = require("https");
  const [host, port] = process.argv[1].split(":");
  https.get({ host, port, path: "/no-such-path", ca: require("fs").readFileSync(process.argv[2]), servername: "localhost" }, (res) => {
    console.log(res.headers["strict-transport-security"] || "");
    res.resume();
  }).on("error", (e) => { console.error(e.message); process.exit(1); });
' "$target" "$ca")
[[ "$hsts" == *"max-age=63072000"* ]] || failures+=("HSTS header missing or short: '$hsts'")

if [ ${#failures[@]} -gt 0 ]; then
  printf 'tls-scan: FAILED\n'; printf '  - %s\n' "${failures[@]}"; exit 1
fi
echo "tls-scan: passed (no SSLv3/TLS 1.0/1.1, only forward-secret AEAD suites, HSTS: $hsts)"
