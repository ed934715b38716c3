#!/usr/bin/env bash
# HTTP callback benchmarks: see perf/README.md ("HTTP callbacks").
#
#   perf/callback-bench.sh one     1,000,000-event backlog of ONE merchant: events/s until received and acked
#   perf/callback-bench.sh many    1,000 merchants x 1,000 events of backlog: events/s
#   perf/callback-bench.sh live    5,000 events/s ingest over 1,000 merchants: commit-to-receipt latency
#   perf/callback-bench.sh all     one at batch size 100 (default) and 1000, many at max in flight 16
#                                  (default) and 64, live at the defaults; a gateway per setting
#
# Starts a private gateway (generated tokens, free port, GATEWAY_CALLBACK_ALLOWLIST=127.0.0.1, its
# own database) against the PostgreSQL and Redis of scripts/services.sh, runs perf's CallbackBench
# (its own Vert.x receiver answers 204 at once and checks per-merchant dense order, duplicates and a
# sample of signatures), prints per-run figures, the CPU split per process, the busiest gateway
# threads and gateway_callback_* metrics, and stops the gateway with SIGTERM on exit (also on
# failure or Ctrl-C). Before each run it waits while another benchmark runs and for a quiet machine.
#
# Overridable by environment:
#   CALLBACK_RUNS            runs per scenario (default: one 3, many 3, live 1)
#   CALLBACK_EVENTS=1000000  one: backlog of the merchant
#   CALLBACK_MERCHANTS=1000  many, live: merchants     CALLBACK_MANY_EVENTS=1000  many: backlog per merchant
#   CALLBACK_CHUNK           events per stored chunk row of the seeded backlog (default: one 500, many 100)
#   CALLBACK_RATE=5000       live: events/s, or a list (5000,2000: one run each, same gateway)
#                            CALLBACK_DURATION=60  live: measured s    CALLBACK_WARMUP=15
#   CALLBACK_INGEST_BATCH=50 live: events per ingest request
#   CALLBACK_WARMUP_RUN=0    1: before the runs of a backlog setting, one unmeasured run with a fifth of
#                            the backlog (a freshly started gateway's first run is JIT-cold)
#   CALLBACK_VERIFY_EVERY=10 the receiver checks the signature of every n-th POST (0: none)
#   BENCH_QUIET_WAIT=180     before each run, wait up to this long for the machine to be idle
#   BENCH_GATEWAY_JAVA_OPTS  JVM options for the gateway; BENCH_JAVA_OPTS for the load tool
#   BENCH_OUT                directory for logs and results (default: a new temp dir)
#   BENCH_REBUILD=1          rebuild the gateway jar even if present
#   CALLBACK_BENCH_DB=gateway_callback_bench
#                            the benchmark's own database on the server of GATEWAY_PG_URL, created if
#                            missing and emptied at the start; empty: GATEWAY_PG_URL's database as is
#   GATEWAY_PG_URL, GATEWAY_REDIS_URL as for the gateway; other GATEWAY_* (e.g.
#   GATEWAY_CALLBACK_BATCH_SIZE, GATEWAY_CALLBACK_MAX_IN_FLIGHT_PER_APP) pass through to the gateway
#   (for one, many, live; "all" sets those two itself).

# The whole script is one compound command, read completely before it runs: safe to edit while
# a benchmark runs.
{
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

SCENARIO=${1:-}
case $SCENARIO in
    one | many | live | all) ;;
    *) echo "usage: perf/callback-bench.sh one|many|live|all   (settings: see the top of this file)" >&2; exit 2 ;;
esac
QUIET_WAIT=${BENCH_QUIET_WAIT:-180}
BENCH_JAVA_OPTS=${BENCH_JAVA_OPTS:--Xmx1g -XX:+UseParallelGC}
VERIFY_EVERY=${CALLBACK_VERIFY_EVERY:-10}
export GATEWAY_PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
export GATEWAY_REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/callback-bench.XXXXXX)}
mkdir -p "$OUT/cpu" "$OUT/classes"
GATEWAY_JAR=$ROOT/gateway/target/gateway-0.1.0-SNAPSHOT.jar
PERF_JAR=$ROOT/perf/target/ingest-bench.jar
# The perf jar's dependencies (Vert.x, HdrHistogram, Jackson); our classes are compiled next to it.
# Its name keeps "ingest-bench" in the tool's command line, so the other benchmark scripts, which
# wait while a process matching that runs, wait for this one too.
DEPS_JAR=$OUT/ingest-bench-deps.jar
OTHERS='IngestBench|ingest-bench|stream-bench|StreamBench'

log() { echo "callback-bench: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=scripts/lib/gateway.sh
. "$ROOT/scripts/lib/gateway.sh"
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"

# ------------------------------------------------------------------ services, build

if [[ -x scripts/services.sh ]]; then
    scripts/services.sh >&2 || die "scripts/services.sh failed"
fi
psql -X -w -q "$GATEWAY_PG_URL" -c 'select 1' >/dev/null || die "cannot log in to PostgreSQL (GATEWAY_PG_URL)"
BENCH_DB=${CALLBACK_BENCH_DB-gateway_callback_bench}
if [[ -n $BENCH_DB ]]; then
    use_own_database "$BENCH_DB"
fi
redis-cli -u "$GATEWAY_REDIS_URL" ping >/dev/null || die "cannot reach Redis (GATEWAY_REDIS_URL)"

if [[ ! -f $GATEWAY_JAR || ! -f $PERF_JAR || ${BENCH_REBUILD:-0} == 1 ]]; then
    log "building (mvn -q -DskipTests package)..."
    wait_other_benches # the build replaces the jars other benchmarks run from
    mvn -q -DskipTests package >&2
fi
# Private copies, so a concurrent rebuild cannot swap a jar under a running JVM; a rebuild in
# progress briefly leaves an unshaded jar in place: wait for a runnable one.
for i in $(seq 1 20); do
    cp "$GATEWAY_JAR" "$OUT/gateway.jar" 2>/dev/null && cp "$PERF_JAR" "$DEPS_JAR" 2>/dev/null &&
        unzip -p "$OUT/gateway.jar" META-INF/MANIFEST.MF 2>/dev/null | grep -c '^Main-Class:' >/dev/null &&
        unzip -l "$DEPS_JAR" 2>/dev/null | grep -c 'org/HdrHistogram/Recorder.class' >/dev/null && break
    ((i < 20)) || die "jars not runnable (rebuild with mvn -q -DskipTests package)"
    log "jars not runnable yet (rebuild in progress?), retrying..."
    sleep 3
done
# The load tool, compiled from perf's sources into $OUT (perf/target is left alone: other
# benchmarks may be running from it).
javac -nowarn -encoding UTF-8 --release 17 -cp "$DEPS_JAR" -d "$OUT/classes" perf/src/main/java/io/orderpush/perf/*.java ||
    die "compiling the load tool failed"
TOOL_CP=$OUT/classes:$DEPS_JAR

# ------------------------------------------------------------------ gateway

new_gateway_credentials
export GATEWAY_CALLBACK_ALLOWLIST=127.0.0.1

SAMPLER_PID="" GW_N=0
cleanup() {
    [[ -z $SAMPLER_PID ]] || kill "$SAMPLER_PID" 2>/dev/null || true
    stop_gateway
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_gateway() { # VAR=value... (extra environment for this gateway)
    GW_N=$((GW_N + 1))
    GATEWAY_JAVA_OPTS=${BENCH_GATEWAY_JAVA_OPTS:-} start_gateway_process "$OUT/gateway.jar" "$OUT/gateway-$GW_N.log" "$@"
    echo "$GW_PID" >"$OUT/gateway.pid"
}

# ------------------------------------------------------------------ measuring helpers

start_cpu_sampler "$OUT/classes"

scrape() { curl -fsS "$BASE/metrics" >"$1" || echo >"$1"; }
metric() { # file name [label-substring] -> sum of the matching samples (0 if none)
    awk -v n="$2" -v l="${3:-}" '{ split($1, a, "{") } a[1] == n && (l == "" || index($1, l)) { s += $2 } END { print s + 0 }' "$1"
}
callback_metrics() { # before after -> one line of gateway_callback_* / gateway_delivery_* over the run
    local b=$1 a=$2 d
    d() { awk -v x="$(metric "$a" "$@")" -v y="$(metric "$b" "$@")" 'BEGIN { printf "%.6f", x - y }'; }
    awk -v ok="$(d gateway_callback_attempts_total 'outcome="success"')" -v all="$(d gateway_callback_attempts_total)" \
        -v rt="$(d gateway_callback_retries_total)" -v bc="$(d gateway_callback_batch_events_count)" \
        -v bs="$(d gateway_callback_batch_events_sum)" -v lc="$(d gateway_callback_latency_seconds_count)" \
        -v ls="$(d gateway_callback_latency_seconds_sum)" -v ak="$(d gateway_delivery_acks_total 'committed')" \
        -v sent="$(d gateway_delivery_events_sent_total)" -v rf="$(d gateway_delivery_read_failures_total)" \
        -v p50="$(hist_quantile "$b" "$a" gateway_callback_latency_seconds 0.5)" \
        -v p99="$(hist_quantile "$b" "$a" gateway_callback_latency_seconds 0.99)" \
        -v c50="$(hist_quantile "$b" "$a" gateway_delivery_commit_to_send_seconds 0.5)" \
        -v c99="$(hist_quantile "$b" "$a" gateway_delivery_commit_to_send_seconds 0.99)" \
        'BEGIN { if (bc < 1) bc = 1; if (lc < 1) lc = 1
                 printf "gateway: %d POSTs (%d ok, %d retries scheduled), %.1f events/POST, %d events read, %d acks committed, %d read failures;" \
                        " POST->answer mean %.2f ms, p50 %.2f ms, p99 %.2f ms; commit->send p50 %.1f ms, p99 %.1f ms (over the run, from the histograms)\n",
                        all, ok, rt, bs / bc, sent, ak, rf, ls / lc * 1000, p50 * 1000, p99 * 1000, c50 * 1000, c99 * 1000 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

SYNC_COMMIT=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW synchronous_commit')
PGVER=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW server_version')
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain -- persistence gateway/src/main delivery 2>/dev/null) ]] || GIT_REV="$GIT_REV+uncommitted"
echo "== callback benchmarks: $(nproc) cores (gateway, PostgreSQL $PGVER synchronous_commit=$SYNC_COMMIT, Redis, load tool and receiver on one box), gateway $GIT_REV, output in $OUT"

tool() { # tag args... -> runs CallbackBench, output in $OUT/<tag>.log (and stdout)
    local tag=$1 rc=0 threads
    shift
    scrape "$OUT/metrics-$tag-before.txt"
    # Busiest gateway threads every 10 s (which event loop, pool or GC thread is saturated).
    ( while sleep 10; do
        echo "== $(date +%T)"
        top -H -b -w 200 -d 2 -n 2 -p "$GW_PID" | awk -v pid="$GW_PID" '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $1 != pid && $9 + 0 >= 3 { c = $12; for (i = 13; i <= NF; i++) c = c " " $i; print "  tid " $1 " " $9 "% " c }' | head -n 12
    done ) >"$OUT/threads-$tag.txt" 2>/dev/null &
    threads=$!
    # shellcheck disable=SC2086
    java $BENCH_JAVA_OPTS -cp "$TOOL_CP" io.orderpush.perf.CallbackBench "$@" --url="$BASE" --verify-every="$VERIFY_EVERY" 2>&1 |
        tee "$OUT/$tag.log" | grep --line-buffered -v '^ROW' | sed -u 's/^/  /' || rc=${PIPESTATUS[0]}
    kill "$threads" 2>/dev/null || true
    wait "$threads" 2>/dev/null || true
    sleep 0.5
    scrape "$OUT/metrics-$tag-after.txt"
    echo "  $(callback_metrics "$OUT/metrics-$tag-before.txt" "$OUT/metrics-$tag-after.txt")"
    echo "  busiest gateway threads (top -H, % of a core): $(grep -h 'tid' "$OUT/threads-$tag.txt" 2>/dev/null | awk '{ $1 = ""; $2 = ""; print }' | sort -k1,1 -t% -gr | head -n 3 | paste -sd';' || true)"
    return $rc
}

failed=0
BACKLOG_HEADER='setting\trun\tmerchants\tevents\ts_received\tevents_per_s\ts_acked\tevents_per_s_acked\tposts\tevents_per_post\tduplicates\tgaps\terrors\tverified\tseed_s\tcpu_gateway\tcpu_tool\tcpu_postgres\tcpu_redis\tcpu_other\tcpu_machine\tiowait\n'
[[ -f $OUT/backlog.tsv ]] || printf "$BACKLOG_HEADER" >"$OUT/backlog.tsv"

# ------------------------------------------------------------------ backlog (one, many)

run_backlog() { # label merchants events-per-merchant chunk runs
    local label=$1 merchants=$2 events=$3 chunk=$4 runs=$5 run prefix t0 t1 rc row cpu seed_s
    echo "== backlog [$label]: $merchants merchant(s) x $events events (chunks of $chunk), $runs run(s)"
    if [[ ${CALLBACK_WARMUP_RUN:-0} == 1 ]]; then
        # One unmeasured run with a fifth of the backlog, so the measured runs meet a JIT-warm gateway.
        prefix=cbw$(date +%s)-
        before_run
        psql -X -w -q -v prefix="$prefix" -v merchants="$merchants" -v events="$((events / 5))" -v chunk="$chunk" \
            -f perf/callback-seed.sql "$GATEWAY_PG_URL" >/dev/null || die "seeding $prefix failed"
        java $BENCH_JAVA_OPTS -cp "$TOOL_CP" io.orderpush.perf.CallbackBench backlog --prefix="$prefix" --merchants="$merchants" \
            --events="$((events / 5))" --url="$BASE" >"$OUT/$label-warmup.log" 2>&1 ||
            { failed=1; log "warm-up run reported errors, see $OUT/$label-warmup.log"; }
        echo "  warm-up (not measured): $(grep '^backlog:' "$OUT/$label-warmup.log" | cut -d';' -f1)"
    fi
    for run in $(seq 1 "$runs"); do
        prefix=cb$(date +%s)r$run-
        before_run # seeding is heavy on PostgreSQL: not while someone else measures
        t0=$(date +%s.%N)
        psql -X -w -q -v prefix="$prefix" -v merchants="$merchants" -v events="$events" -v chunk="$chunk" \
            -f perf/callback-seed.sql "$GATEWAY_PG_URL" >"$OUT/seed-$label-$run.txt" || die "seeding $prefix failed"
        t1=$(date +%s.%N)
        seed_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
        echo "  run $run: seeded $prefix*: $(tail -n +3 "$OUT/seed-$label-$run.txt" | head -n1 | tr -s ' ') (merchants|chunks|events|first|last) in $seed_s s"
        psql -X -w -q "$GATEWAY_PG_URL" -c 'CHECKPOINT' >/dev/null 2>&1 || true
        before_run
        rc=0
        tool "$label-r$run" backlog --prefix="$prefix" --merchants="$merchants" --events="$events" || rc=$?
        row=$(grep -P '^ROW\tbacklog\t' "$OUT/$label-r$run.log" | tail -n1 || true)
        [[ -n $row ]] || { failed=1; log "backlog run $run produced no result"; continue; }
        ((rc == 0)) || { failed=1; log "run $run reported errors (exit $rc)"; }
        cpu=$(cpu_split "$(cut -f16 <<<"$row")" "$(cut -f17 <<<"$row")")
        echo "  run $run: CPU % of one core (gateway tool postgres redis other; machine of $(($(nproc) * 100)), iowait): $cpu"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$run" "$(cut -f3-14 <<<"$row")" "$seed_s" "$(tr ' ' '\t' <<<"$cpu")" >>"$OUT/backlog.tsv"
    done
    col() { awk -F'\t' -v c="$1" -v l="$label" 'NR > 1 && $1 == l { print $c }' "$OUT/backlog.tsv" | median; }
    echo "== backlog [$label] medians: $(col 6) events/s received ($(col 5) s), $(col 8) events/s acked ($(col 7) s);" \
        "$(col 10) events/POST; CPU % gateway/tool/postgres/redis/other: $(col 16)/$(col 17)/$(col 18)/$(col 19)/$(col 20) (table: $OUT/backlog.tsv)"
}

run_one() { run_backlog "$1" 1 "${CALLBACK_EVENTS:-1000000}" "${CALLBACK_CHUNK:-500}" "${CALLBACK_RUNS:-3}"; }
run_many() { run_backlog "$1" "${CALLBACK_MERCHANTS:-1000}" "${CALLBACK_MANY_EVENTS:-1000}" "${CALLBACK_CHUNK:-100}" "${CALLBACK_RUNS:-3}"; }

# ------------------------------------------------------------------ live

LIVE_HEADER='setting\trun\ttarget\tingested_per_s\treceived_per_s\tlag_end\tlag_max\tmissed\trejected_503\tp50_ms\tp90_ms\tp99_ms\tp999_ms\tmax_ms\tingest_p50_ms\tingest_p99_ms\tposts\tevents_per_post\tduplicates\tgaps\terrors\tverified\tcpu_gateway\tcpu_tool\tcpu_postgres\tcpu_redis\tcpu_other\tcpu_machine\tiowait\n'
run_live() { # label
    local label=$1 runs=${CALLBACK_RUNS:-1} run rc row cpu
    [[ -f $OUT/live.tsv ]] || printf "$LIVE_HEADER" >"$OUT/live.tsv"
    echo "== live [$label]: ${CALLBACK_RATE:-5000} events/s (open model, ingest batches of ${CALLBACK_INGEST_BATCH:-50})" \
        "over ${CALLBACK_MERCHANTS:-1000} merchants, ${CALLBACK_WARMUP:-15}s warm-up + ${CALLBACK_DURATION:-60}s measured, $runs run(s)"
    local rate tag k=0
    for rate in $(tr , ' ' <<<"${CALLBACK_RATE:-5000}"); do
    k=$((k + 1))
    tag=$label-$rate
    [[ ! -e $OUT/$tag-r1.log ]] || tag=$label-$rate-$k # the same rate twice in the list
    for run in $(seq 1 "$runs"); do
        before_run
        rc=0
        tool "$tag-r$run" live --merchants="${CALLBACK_MERCHANTS:-1000}" --rate="$rate" \
            --batch="${CALLBACK_INGEST_BATCH:-50}" --warmup="${CALLBACK_WARMUP:-15}" --duration="${CALLBACK_DURATION:-60}" || rc=$?
        row=$(grep -P '^ROW\tlive\t' "$OUT/$tag-r$run.log" | tail -n1 || true)
        [[ -n $row ]] || { failed=1; log "live run $run produced no result"; continue; }
        ((rc == 0)) || { failed=1; log "run $run reported errors (exit $rc)"; }
        cpu=$(cpu_split "$(cut -f24 <<<"$row")" "$(cut -f25 <<<"$row")")
        echo "  run $run: CPU % of one core (gateway tool postgres redis other; machine, iowait): $cpu"
        printf '%s\t%s\t%s\t%s\n' "$label" "$run" "$(cut -f3-22 <<<"$row")" "$(tr ' ' '\t' <<<"$cpu")" >>"$OUT/live.tsv"
    done
    done
}

# ------------------------------------------------------------------ scenarios

case $SCENARIO in
    one | many | live)
        label="$SCENARIO-batch${GATEWAY_CALLBACK_BATCH_SIZE:-100}-inflight${GATEWAY_CALLBACK_MAX_IN_FLIGHT_PER_APP:-16}"
        start_gateway
        "run_$SCENARIO" "$label"
        ;;
    all)
        start_gateway GATEWAY_CALLBACK_BATCH_SIZE=100 GATEWAY_CALLBACK_MAX_IN_FLIGHT_PER_APP=16
        run_one one-batch100
        run_many many-batch100-inflight16
        CALLBACK_RUNS=${CALLBACK_RUNS:-1} run_live live-batch100-inflight16
        stop_gateway
        start_gateway GATEWAY_CALLBACK_BATCH_SIZE=1000 GATEWAY_CALLBACK_MAX_IN_FLIGHT_PER_APP=16
        run_one one-batch1000
        stop_gateway
        start_gateway GATEWAY_CALLBACK_BATCH_SIZE=100 GATEWAY_CALLBACK_MAX_IN_FLIGHT_PER_APP=64
        run_many many-batch100-inflight64
        stop_gateway
        ;;
esac
echo "== results in $OUT: backlog.tsv, live.tsv, *.log, metrics-*, threads-*"
[[ ! -s $OUT/backlog.tsv ]] || { echo "== backlog runs"; column -t -s $'\t' "$OUT/backlog.tsv" | sed 's/^/  /'; }
[[ ! -s $OUT/live.tsv ]] || { echo "== live runs"; column -t -s $'\t' "$OUT/live.tsv" | sed 's/^/  /'; }
top -b -n 1 | head -n 15 >"$OUT/top-end.txt"
((failed == 0)) || { log "some runs reported errors, see $OUT"; exit 1; }
exit 0
}
