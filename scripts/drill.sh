#!/usr/bin/env bash
# The peak-day drill, in one command:
#
#   scripts/drill.sh
#
#   DRILL_NODES=3 DRILL_KILL_NODE_AT=15 scripts/drill.sh     # 3 nodes, node 3 SIGKILLed at 15 s
#
#   DRILL_APP=<appId> GATEWAY_ADMIN_TOKEN=... DRILL_GATEWAY_URL=http://host:8080 scripts/drill.sh
#       drills an ISV's own app through a running gateway (docs/drills.md): the gateway sends the
#       peak day's population (sandbox merchants only) to the app's own transport and writes a
#       report; this script starts it, shows progress, stops it on Ctrl-C and saves report.md,
#       report.html and summary.json to DRILL_OUT (default target/drill/app-<time>). Settings:
#       DRILL_SCALE (default tiny here), DRILL_PEAK_RATE, DRILL_MULTIPLIER, DRILL_MAX_RATE,
#       DRILL_MAX_DURATION_S, DRILL_TAIL_MERCHANTS, DRILL_NORMAL_S, DRILL_RAMP_UP_S,
#       DRILL_RAMP_DOWN_S, DRILL_TAIL_S, DRILL_DRAIN_S, DRILL_SEED; DRILL_APP_KEEP=1 keeps the drill
#       (sandbox merchants, report) in the gateway. Exit 0 report saved, 2 error, 130 interrupted.
#
# Checks that PostgreSQL's filesystem can take the drill's data, brings up PostgreSQL and Redis
# (scripts/services.sh), empties the drill's own database, builds the gateway and perf/drill if
# needed, starts DRILL_NODES private gateway nodes on that database and Redis (generated tokens
# and secret key shared by all, each its own free port, GATEWAY_NODE_ID drill-1..N, a cluster
# name and control channel of this run's own, GATEWAY_CALLBACK_ALLOWLIST=127.0.0.1) and runs
# perf/drill's tool in the foreground: it runs the Gatling load (mvn -pl perf/drill -am
# gatling:test; round robin over the nodes, a retry to the next node), consumes and verifies every
# event (none lost, reordered or applied twice; the WebSocket consumer group's connections spread
# over the nodes, the callback receiver posted to by whichever node owns a channel), samples every
# node's /metrics and CPU, kills a node with SIGKILL if DRILL_KILL_NODE_AT says so, shows a live
# progress line and writes $DRILL_OUT/report.md. The nodes are stopped with SIGTERM on exit (also
# on failure or Ctrl-C). Only one drill runs at a time per checkout (lock: target/drill/.lock).
#
# Exit status: 0 passed; 1 verification failed (events lost, reordered or applied twice) or a
# gateway node died during the run (other than the one the drill killed); 2 setup error; 3
# refused: too little disk space for PostgreSQL; 130 interrupted.
#
# Overridable by environment:
#   DRILL_SCALE=full          tiny | small | full | a positive number: the share of the full drill's
#                             ~20.9M events (tiny 0.001, small 0.05, full 1); passed to the tool
#   DRILL_NODES=1             gateway nodes (1-9); logs gateway.log for one, gateway-<n>.log for
#                             several (node n: GATEWAY_NODE_ID=drill-n)
#   DRILL_KILL_NODE_AT        seconds after Gatling starts injecting at which the drill tool
#                             kills one node with SIGKILL (needs DRILL_NODES >= 2). The peak holds
#                             from 90 s (full), 30 s (small), 5-10 s (tiny, whose load ends at
#                             14 s); a drill that asks for a kill waits for it, in the drain if
#                             need be. The drill must still pass: events redelivered above the
#                             acked cursor at a hand-over (the stored cursors are read right after
#                             the kill) are counted, not failures; report.md says when the node
#                             died, how long the takeover took and what each node did
#   DRILL_KILL_NODE           which node to kill, 2..DRILL_NODES (default the last)
#   DRILL_OUT                 report directory (default target/drill/run-<YYYYmmdd-HHMMSS>);
#                             target/drill/latest is made a symlink to it
#   DRILL_DB=gateway_drill    the drill's own database on the server of GATEWAY_PG_URL, created if
#                             missing and emptied at the start
#   DRILL_SKIP_DISK_CHECK=1   start even if PostgreSQL's filesystem has less free space than
#                             1600 bytes per estimated event + 2 GiB
#   DRILL_REBUILD=1           rebuild gateway and perf/drill even if their jars are present
#   DRILL_GATEWAY_JAVA_OPTS   JVM options of each gateway node (default -Xmx2g -XX:+UseParallelGC;
#                             -Xmx1g with several nodes)
#   DRILL_JAVA_OPTS           JVM options of the drill tool (default -Xmx2g -XX:+UseParallelGC)
#   other DRILL_* (DRILL_PEAK_RATE, DRILL_PHASES, DRILL_BATCH, DRILL_SEED, ...) pass through to the
#   tool: see perf/drill/src/main/java/io/orderpush/drill/DrillConfig.java
#   GATEWAY_PG_URL, GATEWAY_REDIS_URL as for scripts/services.sh (the gateway uses DRILL_DB on
#   GATEWAY_PG_URL's server); other GATEWAY_* pass through to the gateway nodes (for example
#   GATEWAY_NODE_LEASE_MS, the lease that bounds the takeover after a kill).

# The whole script is one compound command, read completely before it runs: safe to edit while
# a drill runs.
{
set -euo pipefail

CALLER_PWD=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { echo "drill: $*" >&2; }
die() { log "ERROR: $*"; exit 2; }
# shellcheck source=scripts/lib/gateway.sh
. "$ROOT/scripts/lib/gateway.sh"

# An app drill (DRILL_APP) is small unless asked: its default population is tiny.
[[ -n ${DRILL_APP:-} ]] && export DRILL_SCALE=${DRILL_SCALE:-tiny}
export DRILL_SCALE=${DRILL_SCALE:-full}
export DRILL_DB=${DRILL_DB:-gateway_drill}
export GATEWAY_PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
export GATEWAY_REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379}
DRILL_NODES=${DRILL_NODES:-1}
[[ $DRILL_NODES =~ ^[1-9]$ ]] || die "DRILL_NODES must be 1 to 9, not '$DRILL_NODES'"
if [[ -n ${DRILL_KILL_NODE_AT:-} ]]; then
    ((DRILL_NODES >= 2)) || die "DRILL_KILL_NODE_AT needs DRILL_NODES=2 or more (the drill kills one node and the others take over)"
    [[ $DRILL_KILL_NODE_AT =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "DRILL_KILL_NODE_AT must be seconds, not '$DRILL_KILL_NODE_AT'"
    DRILL_KILL_NODE=${DRILL_KILL_NODE:-$DRILL_NODES}
    [[ $DRILL_KILL_NODE =~ ^[0-9]+$ ]] && ((DRILL_KILL_NODE >= 2 && DRILL_KILL_NODE <= DRILL_NODES)) ||
        die "DRILL_KILL_NODE must be 2 to $DRILL_NODES (not the first node), not '$DRILL_KILL_NODE'"
    export DRILL_KILL_NODE_AT DRILL_KILL_NODE
fi
# One run id for the tool and the nodes' cluster name (the tool's default has the same form).
export DRILL_RUN_ID=${DRILL_RUN_ID:-d$(date +%s)}
if ((DRILL_NODES > 1)); then
    DRILL_GATEWAY_JAVA_OPTS=${DRILL_GATEWAY_JAVA_OPTS:--Xmx1g -XX:+UseParallelGC}
else
    DRILL_GATEWAY_JAVA_OPTS=${DRILL_GATEWAY_JAVA_OPTS:--Xmx2g -XX:+UseParallelGC}
fi
DRILL_JAVA_OPTS=${DRILL_JAVA_OPTS:--Xmx2g -XX:+UseParallelGC}
GATEWAY_JAR=$ROOT/gateway/target/gateway-0.1.0-SNAPSHOT.jar
DRILL_JAR=$ROOT/perf/drill/target/drill.jar
SIMULATION=$ROOT/perf/drill/target/test-classes/io/orderpush/drill/PeakDaySimulation.class

scale=$(tr -d '[:space:]' <<<"$DRILL_SCALE" | tr '[:upper:]' '[:lower:]')
case $scale in
    tiny) SCALE_N=0.001 ;;
    small) SCALE_N=0.05 ;;
    full) SCALE_N=1 ;;
    *)
        if ! [[ $scale =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)(e[-+]?[0-9]+)?$ ]] || ! awk -v s="$scale" 'BEGIN { exit !(s + 0 > 0) }'; then
            die "DRILL_SCALE must be tiny, small, full or a positive number, not '$DRILL_SCALE'"
        fi
        SCALE_N=$scale
        ;;
esac
EVENTS=$(awk -v s="$SCALE_N" 'BEGIN { printf "%.0f", 20900000 * s }')

# ------------------------------------------------------------------ an ISV's app (DRILL_APP)

if [[ -n ${DRILL_APP:-} ]]; then
    # Through a running gateway's operator API (docs/drills.md): no gateway, database or consumer
    # of our own. The gateway sends its synthetic peak to the app's own transport and reports.
    [[ -n ${GATEWAY_ADMIN_TOKEN:-} ]] || die "DRILL_APP needs GATEWAY_ADMIN_TOKEN (the gateway's operator token)"
    OUT=${DRILL_OUT:-$ROOT/target/drill/app-$(date +%Y%m%d-%H%M%S)}
    [[ $OUT == /* ]] || OUT=$CALLER_PWD/$OUT
    mkdir -p "$ROOT/target/drill" "$OUT"
    if [[ ! -f $DRILL_JAR || -n ${DRILL_REBUILD:-} ]]; then
        log "building (mvn -B -ntp -q -DskipTests package -pl perf/drill -am)..."
        mvn -B -ntp -q -DskipTests package -pl perf/drill -am >&2 || die "build failed"
    fi
    if [[ -L $ROOT/target/drill/latest || ! -e $ROOT/target/drill/latest ]]; then
        ln -sfn "$OUT" "$ROOT/target/drill/latest"
    fi
    set +e
    # shellcheck disable=SC2086 # DRILL_JAVA_OPTS is a list of options
    DRILL_APP_SCALE=$SCALE_N DRILL_OUT=$OUT java $DRILL_JAVA_OPTS -cp "$DRILL_JAR" io.orderpush.drill.AppDrillRun
    exit $?
fi
[[ $DRILL_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "DRILL_DB must be a plain lower-case identifier"

OUT=${DRILL_OUT:-$ROOT/target/drill/run-$(date +%Y%m%d-%H%M%S)}
[[ $OUT == /* ]] || OUT=$CALLER_PWD/$OUT

mkdir -p "$ROOT/target/drill"
exec 8>"$ROOT/target/drill/.lock"
flock -n 8 || die "another drill is running (lock: target/drill/.lock)"

# ------------------------------------------------------------------ disk space, before anything heavy

# Host and port of GATEWAY_PG_URL (postgresql://[user[:pass]@]host[:port]/db).
hp=${GATEWAY_PG_URL#*://}
hp=${hp%%[/?]*}
hp=${hp##*@}
if [[ $hp =~ ^\[(.*)\](:([0-9]+))?$ || $hp =~ ^([^:]*)(:([0-9]+))?$ ]]; then
    PG_HOST=${BASH_REMATCH[1]} PG_PORT=${BASH_REMATCH[3]:-5432}
else
    PG_HOST='?' PG_PORT=5432
fi

disk_check() {
    case $PG_HOST in
        127.* | localhost | ::1 | '') ;;
        *) log "PostgreSQL at $PG_HOST is not local: disk check skipped"; return 0 ;;
    esac
    local dir="" d avail reclaim
    # SHOW data_directory needs a superuser (or pg_read_all_settings): try the gateway's role, then
    # (as root) postgres over the Unix socket; PostgreSQL may not be running yet.
    dir=$(PGCONNECT_TIMEOUT=5 psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW data_directory' 2>/dev/null) ||
        { ((EUID == 0)) && id postgres >/dev/null 2>&1 &&
            dir=$(cd / && PGCONNECT_TIMEOUT=5 runuser -u postgres -- psql -X -w -Atq -p "$PG_PORT" -c 'SHOW data_directory' 2>/dev/null); } ||
        dir=""
    [[ -n $dir ]] || dir=/var/lib/postgresql
    d=$dir
    while [[ ! -e $d && $d == /*/* ]]; do d=${d%/*}; done
    [[ -e $d ]] || d=/
    avail=$(df --output=avail -B1 "$d" | tail -n 1 | tr -d ' ')
    # The previous drill's data is emptied at the start: count it as free.
    reclaim=$(PGCONNECT_TIMEOUT=5 psql -X -w -Atq "$GATEWAY_PG_URL" -c \
        "SELECT coalesce(sum(pg_database_size(datname)), 0) FROM pg_database WHERE datname = '$DRILL_DB'" 2>/dev/null) || reclaim=0
    [[ $reclaim =~ ^[0-9]+$ ]] || reclaim=0
    awk -v e="$EVENTS" -v a="$avail" -v r="$reclaim" -v s="$DRILL_SCALE" -v dir="$dir" -v name="$scale" 'BEGIN {
        need = e * 1600 + 2 * 1024 ^ 3
        if (a + r >= need) exit 0
        what = name == "full" ? "full drill" : "drill at DRILL_SCALE=" s
        held = r > 0 ? sprintf(" (%.1f GB of it held by the previous drill database)", r / 1e9) : ""
        printf("drill: refusing to start: the %s writes about %.1f GB to PostgreSQL (%s), only %.1f GB free%s;" \
               " free space or run a smaller DRILL_SCALE (needed: %.1f GB free, 1600 bytes per event + 2 GiB;" \
               " DRILL_SKIP_DISK_CHECK=1 starts anyway)\n", what, e * 1600 / 1e9, dir, (a + r) / 1e9, held, need / 1e9) > "/dev/stderr"
        exit 1 }' || exit 3
}
if [[ ${DRILL_SKIP_DISK_CHECK:-0} == 1 ]]; then
    log "disk check skipped (DRILL_SKIP_DISK_CHECK=1)"
else
    disk_check
fi

mkdir -p "$OUT"
if [[ -L $ROOT/target/drill/latest || ! -e $ROOT/target/drill/latest ]]; then
    ln -sfn "$OUT" "$ROOT/target/drill/latest"
fi
echo "== peak-day drill: DRILL_SCALE=$DRILL_SCALE (~$EVENTS events), $DRILL_NODES gateway node(s)${DRILL_KILL_NODE_AT:+, node $DRILL_KILL_NODE killed at ${DRILL_KILL_NODE_AT} s}, $(nproc) cores, output in $OUT"

# ------------------------------------------------------------------ services, database, build

# 8>&-: the daemons services.sh may start must not hold the drill's lock.
scripts/services.sh >&2 8>&- || die "scripts/services.sh failed"
psql -X -w -q "$GATEWAY_PG_URL" -c 'select 1' >/dev/null || die "cannot log in to PostgreSQL (GATEWAY_PG_URL)"
use_own_database "$DRILL_DB"
# No Redis flush: the gateway keys its cursors by app id and the drill's apps are new each run
# (tests and benchmarks share this Redis).
redis-cli -u "$GATEWAY_REDIS_URL" ping >/dev/null || die "cannot reach Redis (GATEWAY_REDIS_URL)"

# -DskipTests still compiles the test classes: the Gatling simulation the tool runs via Maven.
if [[ ! -f $GATEWAY_JAR || ! -f $DRILL_JAR || ! -f $SIMULATION || ${DRILL_REBUILD:-0} == 1 ]]; then
    log "building (mvn -B -ntp -q -DskipTests package -pl gateway,perf/drill -am)..."
    mvn -B -ntp -q -DskipTests package -pl gateway,perf/drill -am >&2 8>&- || die "build failed"
fi
[[ -f $SIMULATION ]] || die "no compiled Gatling simulation ($SIMULATION); rebuild with DRILL_REBUILD=1"
# Private copies, so a rebuild cannot swap a jar under a running JVM.
cp "$GATEWAY_JAR" "$OUT/gateway.jar" || die "cannot copy the gateway jar to $OUT"
cp "$DRILL_JAR" "$OUT/drill.jar" || die "cannot copy the drill jar to $OUT"
for jar in gateway drill; do
    unzip -p "$OUT/$jar.jar" META-INF/MANIFEST.MF 2>/dev/null | grep -c '^Main-Class:' >/dev/null ||
        die "$jar.jar is not runnable (a rebuild in progress?); retry, or DRILL_REBUILD=1"
done

# ------------------------------------------------------------------ gateway nodes

new_gateway_credentials
export GATEWAY_CALLBACK_ALLOWLIST=127.0.0.1
# This run's nodes form a cluster of their own: tests, benchmarks and other drills share this Redis
# (a gateway of another cluster must never be handed the drill's channels, nor hear its notices).
export GATEWAY_CLUSTER_NAME=${GATEWAY_CLUSTER_NAME:-drill-$DRILL_DB-$DRILL_RUN_ID}
export GATEWAY_CONTROL_CHANNEL=${GATEWAY_CONTROL_CHANNEL:-gw:$GATEWAY_CLUSTER_NAME}
NODE_PIDS=() NODE_URLS=() NODE_LOGS=()
KILLED_NODE=""

stop_nodes() { # SIGTERM to every live node at once, up to 30 s for them to stop, then SIGKILL
    local i pid live
    for i in "${!NODE_PIDS[@]}"; do
        pid=${NODE_PIDS[$i]}
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            log "stopping node $((i + 1)) (pid $pid, SIGTERM)..."
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for _ in $(seq 1 30); do
        live=0
        for pid in "${NODE_PIDS[@]}"; do
            if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then live=1; fi
        done
        ((live)) || break
        sleep 1
    done
    for i in "${!NODE_PIDS[@]}"; do
        pid=${NODE_PIDS[$i]}
        [[ -n $pid ]] || continue
        if kill -0 "$pid" 2>/dev/null; then
            log "node $((i + 1)) (pid $pid) did not stop in 30 s, SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        NODE_PIDS[i]=""
    done
}
trap 'stop_nodes; stop_gateway' EXIT # stop_gateway: a node still starting
trap 'exit 130' INT TERM
for n in $(seq 1 "$DRILL_NODES"); do
    if ((DRILL_NODES == 1)); then logfile=$OUT/gateway.log; else logfile=$OUT/gateway-$n.log; fi
    GATEWAY_JAVA_OPTS=$DRILL_GATEWAY_JAVA_OPTS GATEWAY_READY_TIMEOUT=90 \
        start_gateway_process "$OUT/gateway.jar" "$logfile" GATEWAY_NODE_ID="drill-$n"
    NODE_PIDS+=("$GW_PID") NODE_URLS+=("$BASE") NODE_LOGS+=("$logfile")
    GW_PID="" # the nodes are stopped by stop_nodes
done
if ((DRILL_NODES == 1)); then
    echo "${NODE_PIDS[0]}" >"$OUT/gateway.pid"
else
    for n in $(seq 1 "$DRILL_NODES"); do echo "${NODE_PIDS[$((n - 1))]}" >"$OUT/gateway-$n.pid"; done
fi

# ------------------------------------------------------------------ the drill

rc=0
rm -f "$OUT/killed-node"
# shellcheck disable=SC2086
GATEWAY_URL=${NODE_URLS[0]} GATEWAY_URLS=$(IFS=,; echo "${NODE_URLS[*]}") DRILL_OUT=$OUT DRILL_ROOT=$ROOT \
    DRILL_GATEWAY_PIDS=$(IFS=,; echo "${NODE_PIDS[*]}") \
    java $DRILL_JAVA_OPTS -jar "$OUT/drill.jar" 8>&- || rc=$?
if [[ -f $OUT/killed-node ]]; then KILLED_NODE=$(tr -dc 0-9 <"$OUT/killed-node"); fi

for i in "${!NODE_PIDS[@]}"; do
    pid=${NODE_PIDS[$i]}
    [[ -n $pid ]] || continue
    if kill -0 "$pid" 2>/dev/null; then continue; fi
    gw_rc=0
    wait "$pid" 2>/dev/null || gw_rc=$?
    NODE_PIDS[i]=""
    if [[ $KILLED_NODE == "$((i + 1))" ]]; then
        log "node $((i + 1)) was killed by the drill (exit status $gw_rc), as DRILL_KILL_NODE_AT asked"
        continue
    fi
    if ((DRILL_NODES == 1)); then what="the gateway"; else what="gateway node $((i + 1))"; fi
    log "$what died during the run (exit status $gw_rc); last lines of ${NODE_LOGS[$i]}:"
    tail -n 30 "${NODE_LOGS[$i]}" | sed 's/^/  /' >&2
    rc=1
done
stop_nodes

case $rc in
    0) result="passed" ;;
    1) result="FAILED (verification failed or a gateway node died; see the report)" ;;
    2) result="setup error (see the output above)" ;;
    130) result="interrupted" ;;
    *) result="drill tool exited with status $rc" ;;
esac
if [[ -f $OUT/report.md ]]; then echo "drill: report: $OUT/report.md"; else echo "drill: report: $OUT/report.md (not written)"; fi
echo "drill: exit status $rc: $result"
exit "$rc"
}
