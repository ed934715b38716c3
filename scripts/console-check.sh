#!/usr/bin/env bash
# The operator console (/console/) in a real browser: starts a private gateway from the packaged
# jar (its own database and tokens), and runs gateway/src/test/console/console.test.mjs, which
# creates apps, grants and events through the API, opens the console in headless Chromium with
# playwright-core, types the admin token, checks that the pages show that data (apps, lag, impact,
# rates), freezes and unfreezes an app and suspends and resumes an endpoint through the page
# (checked through the API), and saves target/console/console.png. Exit 1 when a check fails.
#
#   scripts/console-check.sh            (after mvn -DskipTests package; scripts/test.sh runs it)
#
# What it needs, installed when missing (as root, from Debian's packages; see scripts/lib/apt.sh):
# node and npm (packages nodejs, npm), Chromium (package chromium, used at /usr/bin/chromium; a
# Playwright browser download is never used). playwright-core comes from npm, pinned in
# gateway/src/test/console/package-lock.json (npm ci).
#
#   CONSOLE_DB=gateway_console   the database it uses on GATEWAY_PG_URL's server (emptied first)
#   CHROMIUM=/usr/bin/chromium   the browser
#   GATEWAY_PG_URL, GATEWAY_REDIS_URL as for scripts/services.sh (which must have run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

log() { echo "console-check: $*" >&2; }
die() { log "ERROR: $*"; exit 2; }
# shellcheck source=scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=scripts/lib/gateway.sh
source scripts/lib/gateway.sh

TEST_DIR=$ROOT/gateway/src/test/console
OUT=$ROOT/target/console
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export GATEWAY_PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
export GATEWAY_REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379}
started=$SECONDS

# ---------------------------------------------------------------- tools

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[[ -x $CHROMIUM ]] || missing+=(chromium fonts-dejavu-core)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
[[ -x $CHROMIUM ]] || die "no browser at $CHROMIUM after installing chromium"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || die "node $(node --version) is too old: playwright-core needs 18 or later"

# npm ci only when the lock changed since the last install (it deletes node_modules first).
if ! cmp -s "$TEST_DIR/package-lock.json" "$TEST_DIR/node_modules/.console-check.lock" 2>/dev/null; then
    log "npm ci (playwright-core, pinned in package-lock.json)..."
    (cd "$TEST_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) ||
        die "npm ci failed in $TEST_DIR"
    cp "$TEST_DIR/package-lock.json" "$TEST_DIR/node_modules/.console-check.lock"
fi
log "tools ready after $((SECONDS - started)) s: node $(node --version), $("$CHROMIUM" --version 2>/dev/null | head -n1)"

# ---------------------------------------------------------------- gateway

jar=$(ls "$ROOT"/gateway/target/gateway-*.jar 2>/dev/null |
    grep -Ev '/(original-[^/]*|[^/]*-(sources|tests))\.jar$' | head -n1) ||
    true
[[ -n $jar ]] || die "no gateway jar in gateway/target: run mvn -DskipTests package first"

mkdir -p "$OUT"
rm -f "$OUT"/*.png
use_own_database "${CONSOLE_DB:-gateway_console}"
new_gateway_credentials
trap stop_gateway EXIT
# The callback app of the test points at a closed port on loopback: allowed for this run only.
start_gateway_process "$jar" "$OUT/gateway.log" GATEWAY_CALLBACK_ALLOWLIST=127.0.0.1 \
    GATEWAY_CONTROL_CHANNEL="gw:control:console:$$"

rc=0
(cd "$TEST_DIR" && BASE="$BASE" OUT="$OUT" node console.test.mjs) || rc=$?
stop_gateway
if ((rc != 0)); then
    log "FAILED (exit $rc); screenshot of the failure, if any: $OUT/failure.png; gateway log: $OUT/gateway.log"
    exit 1
fi
log "passed in $((SECONDS - started)) s; screenshot: $OUT/console.png"
