#!/usr/bin/env bash
# A tiny app drill, end to end, the way an operator runs one: starts a private gateway from the
# packaged jar (its own database and tokens), creates a WebSocket app, runs the Node sample
# consumer (client/node/consumer.js) as the ISV's app, then `DRILL_APP=<app> scripts/drill.sh`
# against the gateway's operator API. Checks that the drill ended with a report (report.md with a
# verdict, report.html with its chart, summary.json), that the app applied the drill's sandbox
# events, and that the drill (with its sandbox merchants) was deleted afterwards.
# Logs: target/app-drill-check/. Exit 1 when a check fails. About 40 s.
#
#   scripts/app-drill-check.sh        (after mvn -DskipTests package and scripts/node-sample-check.sh,
#                                      which installs node and the sample's packages; scripts/test.sh
#                                      runs it)
#
#   APP_DRILL_DB=gateway_app_drill   the database it uses on GATEWAY_PG_URL's server (emptied first)
#   GATEWAY_PG_URL, GATEWAY_REDIS_URL as for scripts/services.sh (which must have run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

log() { echo "app-drill-check: $*" >&2; }
die() { log "ERROR: $*"; exit 2; }
fail() { log "FAILED: $*; logs in $OUT/"; exit 1; }
# shellcheck source=scripts/lib/gateway.sh
source scripts/lib/gateway.sh

OUT=$ROOT/target/app-drill-check
export GATEWAY_PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
export GATEWAY_REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379}
started=$SECONDS

command -v node >/dev/null || die "node is missing: run scripts/node-sample-check.sh first (it installs it)"
[[ -d client/node/node_modules/ws ]] || die "client/node has no packages: run scripts/node-sample-check.sh first"
jar=$(ls "$ROOT"/gateway/target/gateway-*.jar 2>/dev/null |
    grep -Ev '/(original-[^/]*|[^/]*-(sources|tests))\.jar$' | head -n1) ||
    true
[[ -n $jar ]] || die "no gateway jar in gateway/target: run mvn -DskipTests package first"
[[ -f perf/drill/target/drill.jar ]] || die "no perf/drill/target/drill.jar: run mvn -DskipTests package first"

rm -rf "$OUT"
mkdir -p "$OUT"
use_own_database "${APP_DRILL_DB:-gateway_app_drill}"
new_gateway_credentials
consumer=""
cleanup() {
    [[ -n $consumer ]] && kill "$consumer" 2>/dev/null || true
    stop_gateway
}
trap cleanup EXIT
start_gateway_process "$jar" "$OUT/gateway.log" GATEWAY_CONTROL_CHANNEL="gw:control:app-drill:$$" \
    GATEWAY_CLUSTER_NAME="app-drill-$$"

created=$(curl -sS --max-time 10 -X POST "$BASE/v1/apps" -H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d '{"name":"isv-erp","delivery":{"mode":"websocket"}}') ||
    die "cannot create the app"
app=$(grep -o '"appId":"[^"]*"' <<<"$created" | cut -d'"' -f4)
token=$(grep -o '"token":"[^"]*"' <<<"$created" | cut -d'"' -f4)
[[ -n $app && -n $token ]] || die "unexpected answer to the app's creation: $created"

# The ISV's app: the Node sample consumer, logging every event it applies.
GATEWAY_URL=$BASE APP_TOKEN=$token node client/node/consumer.js >"$OUT/consumer.log" 2>&1 &
consumer=$!

rc=0
DRILL_APP=$app DRILL_GATEWAY_URL=$BASE DRILL_OUT=$OUT/report DRILL_SCALE=0.0002 DRILL_TAIL_MERCHANTS=20 \
    DRILL_PEAK_RATE=400 DRILL_NORMAL_S=2 DRILL_RAMP_UP_S=2 DRILL_RAMP_DOWN_S=2 DRILL_TAIL_S=2 \
    DRILL_DRAIN_S=30 DRILL_MAX_DURATION_S=120 timeout -k 5 180 scripts/drill.sh 2>"$OUT/drill.log" || rc=$?
((rc == 0)) || fail "scripts/drill.sh exited $rc: $(tail -n 5 "$OUT/drill.log")"

[[ -s $OUT/report/report.md ]] || fail "no report.md"
# Every verdict the report can give about an app that was offered events: it kept up through the
# peak, it kept up with what a slow load generator offered without reaching the peak (a loaded CI
# machine), it fell behind, or it stalled. Which one does not matter here; that there is one does.
verdicts='Keeps up with|Kept up with everything offered|Falls behind|Stalled'
# the verdict line: bold, after the reasons a drill stopped early or is still running, if any
verdict_line="^\*\*(Stopped early: .*|Still running; so far: )?($verdicts)"
grep -Eq "$verdict_line" "$OUT/report/report.md" ||
    fail "report.md has no verdict: $(grep -m1 '^\*\*' "$OUT/report/report.md" | head -c 300)"
grep -q '<svg' "$OUT/report/report.html" || fail "report.html has no chart"
grep -q '"state" : "finished"' "$OUT/report/summary.json" || fail "the drill did not finish: $(head -c 400 "$OUT/report/summary.json")"
drill=$(grep -o '"drillId" : "[^"]*"' "$OUT/report/summary.json" | head -n1 | cut -d'"' -f4)
[[ -n $drill ]] || fail "summary.json names no drill"
applied=$(grep -c "sandbox:$drill:" "$OUT/consumer.log" || true)
((applied > 0)) || fail "the app applied no sandbox event (consumer.log)"
status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/v1/drills/$drill" \
    -H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN")
[[ $status == 404 ]] || fail "the drill was not deleted after its report was saved (GET answered $status)"
log "passed in $((SECONDS - started)) s: $(grep -m1 -E "$verdict_line" "$OUT/report/report.md" | head -c 200)"
