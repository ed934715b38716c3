#!/usr/bin/env bash
# The Node samples for ISVs (client/node: consumer.js, receiver.js) against a real gateway: starts a
# private gateway from the packaged jar (its own database and tokens) and runs
# client/node/test/sample.test.js, which creates a WebSocket app and a callback app through the
# operator API, grants merchants, ingests events, runs the samples as child processes and checks
# that each applied every event exactly once in seq order (the consumer across a crash between
# applying and acking; the receiver across a restart after a secret rotation), that the gateway's
# cursors reached the heads, that receiver.js answers 401 to tampered, wrongly signed, stale and
# unsigned requests and 2xx to a genuine retry it skips, and that consumer.js reports a prevSeq
# gap, drops work of unassigned merchants and reconnects (against a scripted WebSocket server).
# Logs of every process: target/node-sample/. Exit 1 when a check fails. About 30 s.
#
#   scripts/node-sample-check.sh        (after mvn -DskipTests package; scripts/test.sh runs it)
#
# What it needs, installed when missing (as root, from Debian's packages; see scripts/lib/apt.sh):
# node and npm (packages nodejs, npm). ws and standardwebhooks come from npm, pinned in
# client/node/package-lock.json (npm ci).
#
#   NODE_SAMPLE_DB=gateway_node_sample   the database it uses on GATEWAY_PG_URL's server (emptied first)
#   GATEWAY_PG_URL, GATEWAY_REDIS_URL as for scripts/services.sh (which must have run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

log() { echo "node-sample-check: $*" >&2; }
die() { log "ERROR: $*"; exit 2; }
# shellcheck source=scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=scripts/lib/gateway.sh
source scripts/lib/gateway.sh

SAMPLE_DIR=$ROOT/client/node
OUT=$ROOT/target/node-sample
export GATEWAY_PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
export GATEWAY_REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379}
started=$SECONDS

# ---------------------------------------------------------------- tools

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || die "node $(node --version) is too old: the samples need 18 or later"

# npm ci only when the lock changed since the last install (it deletes node_modules first).
if ! cmp -s "$SAMPLE_DIR/package-lock.json" "$SAMPLE_DIR/node_modules/.node-sample-check.lock" 2>/dev/null; then
    log "npm ci (ws, standardwebhooks, pinned in package-lock.json)..."
    (cd "$SAMPLE_DIR" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $SAMPLE_DIR"
    cp "$SAMPLE_DIR/package-lock.json" "$SAMPLE_DIR/node_modules/.node-sample-check.lock"
fi
log "tools ready after $((SECONDS - started)) s: node $(node --version)"

# ---------------------------------------------------------------- gateway

jar=$(ls "$ROOT"/gateway/target/gateway-*.jar 2>/dev/null |
    grep -Ev '/(original-[^/]*|[^/]*-(sources|tests))\.jar$' | head -n1) ||
    true
[[ -n $jar ]] || die "no gateway jar in gateway/target: run mvn -DskipTests package first"

rm -rf "$OUT"
mkdir -p "$OUT"
use_own_database "${NODE_SAMPLE_DB:-gateway_node_sample}"
new_gateway_credentials
trap stop_gateway EXIT
# receiver.js listens on loopback: allowed for this run only. A first callback attempt that finds
# it not yet listening is retried after 100 ms, not 1 s.
start_gateway_process "$jar" "$OUT/gateway.log" GATEWAY_CALLBACK_ALLOWLIST=127.0.0.1 \
    GATEWAY_CALLBACK_INITIAL_BACKOFF_MS=100 GATEWAY_CONTROL_CHANNEL="gw:control:node-sample:$$"

rc=0
# timeout: a hung check ends (the test kills the samples it started when it exits).
(cd "$SAMPLE_DIR" && BASE="$BASE" OUT="$OUT" timeout -k 5 120 node test/sample.test.js) || rc=$?
stop_gateway
if ((rc != 0)); then
    log "FAILED (exit $rc); logs of the gateway and of each sample process: $OUT/"
    exit 1
fi
log "passed in $((SECONDS - started)) s"
