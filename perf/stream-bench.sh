#!/usr/bin/env bash
# WebSocket push benchmarks: see perf/README.md ("WebSocket push").
#
#   perf/stream-bench.sh drain       1,000,000-event backlog of one merchant, one consumer: events/s
#   perf/stream-bench.sh live        5,000 events/s over 1,000 merchants: commit-to-arrival latency
#   perf/stream-bench.sh sustained   ingest -> consumer ack, rate stepped up: highest bounded rate
#                                    (live and sustained, also in `all`: then the same scenario
#                                    against NATS JetStream, the gateway's figures beside its own)
#   perf/stream-bench.sh all         the three, on one gateway
#   perf/stream-bench.sh replays     live alone, then live while another app replays a 1M-event
#                                    merchant STREAM_REPLAYS times at once (default 2), in turn:
#                                    one app's replays must not slow other apps' delivery
#   perf/stream-bench.sh channels    many channels, idle then at a modest rate: a websocket and a
#                                    callback app granted STREAM_CHANNEL_MERCHANTS merchants each
#                                    (perf/cluster-bench.sh traffic samples Redis meanwhile)
#   perf/stream-bench.sh masking     drain and live, each run twice in turn: an app granted the pii
#                                    scope (personal data whole) and one without (masked)
#
# Starts a private gateway (generated tokens, free port) against the PostgreSQL and Redis of
# scripts/services.sh, runs perf's StreamBench, prints per-run figures, the CPU split per process
# and gateway metrics, and stops the gateway with SIGTERM on exit (also on failure or Ctrl-C).
# After the gateway's live or sustained runs, the same runs against a private nats-server with
# JetStream (perf's JetStreamBench: same rate, batching, one subject per merchant, consumers; its
# store under the output dir, file storage with the default sync, which is no fsync per message),
# then per run the gateway's figure, JetStream's and the ratio, with the CPU split of nats-server.
# nats-server is installed from Debian's package (nats-server) when missing (as root, see
# scripts/lib/apt.sh), unless STREAM_JETSTREAM=0.
# Before each run it waits while another benchmark (IngestBench) runs, and for the machine to
# be quiet.
#
# Overridable by environment:
#   STREAM_RUNS             runs per scenario (default: drain 3, live 1, sustained 1)
#   STREAM_EVENTS=1000000   drain: backlog size (seeded by SQL, perf/stream-seed.sql)
#   STREAM_MERCHANTS=1000   live, sustained: merchants (one app granted all of them)
#   STREAM_CONNECTIONS=4    live, sustained: consumer connections of the app (drain: 1)
#   STREAM_NODES=1          gateway nodes (1-9), one cluster on the same PostgreSQL and Redis (node
#                           n: GATEWAY_NODE_ID=sb-n, log gateway-<n>.log; a cluster name and control
#                           channel of this invocation's own, GATEWAY_CLUSTER_NAME=sb-<pid>-<time>);
#                           live and sustained send ingest requests and open consumer connections
#                           round robin over the nodes (perf/cluster-bench.sh compares 3 with 1)
#   STREAM_INGEST_NODES     live, sustained: ingest through the first n nodes only (default all)
#   STREAM_RATE=5000        live: events/s          STREAM_DURATION=60  live: measured seconds
#   STREAM_RATES=10000,15000,20000,25000,30000      sustained: steps, events/s
#   STREAM_STEP=30          sustained: seconds per step
#   STREAM_STOP_AFTER=0     sustained: stop after this many unbounded steps in a row (0: every step)
#   STREAM_CHANNEL_MERCHANTS=50000, STREAM_IDLE=60
#                           channels: merchants granted to each app, seconds of the idle phase (the
#                           load phase: STREAM_RATE, default 1000, for STREAM_DURATION, default 60)
#   STREAM_WARMUP=15        live, sustained: unmeasured seconds first (sustained: at rate/2)
#   STREAM_BATCH            events per ingest request (default: live 50, sustained 100)
#   STREAM_SCOPES           the consumer app's grant scopes (drain, live, sustained): pii, or empty
#                           (default) for personal data masked
#   STREAM_JETSTREAM=1      live, sustained: also run them against JetStream (0: the gateway only)
#   STREAM_JETSTREAM_RATES  sustained against JetStream: steps (default: STREAM_RATES's)
#   STREAM_JETSTREAM_EXTEND_TO=100000
#                           sustained against JetStream: while every step was bounded, add steps
#                           25% apart up to this rate (0: none), so its ceiling is measured rather
#                           than capped by the gateway's steps
#   NATS_SERVER             the nats-server binary (default: nats-server on PATH, else
#                           /usr/sbin/nats-server, installed from Debian's package when missing)
#   BENCH_QUIET_WAIT=180    before each run, wait up to this long for the machine to be idle
#   BENCH_GATEWAY_JAVA_OPTS JVM options for the gateway   (default none)
#   BENCH_GATEWAY_JAVA      the java binary for the gateway (default java on PATH), e.g.
#                           /usr/lib/jvm/temurin-25-jdk-amd64/bin/java
#   STREAM_SEED_MASKS=patch how the seed stores the masks (perf/stream-seed.sql): patch, as ingest
#                           stores them since session 35, or whole, as before (for an older jar)
#   STREAM_GATEWAY_JAR      the gateway jar to run (default: this tree's, built if missing), e.g. a
#                           copy of an earlier commit's for a before/after comparison
#   BENCH_JAVA_OPTS         JVM options for the load tool (default -Xmx1g -XX:+UseParallelGC)
#   BENCH_OUT               directory for logs and results (default: a new temp dir)
#   BENCH_REBUILD=1         rebuild the jars even if present
#   STREAM_BENCH_DB=gateway_stream_bench
#                           the benchmark's own database on the server of GATEWAY_PG_URL, created
#                           if missing and emptied at the start (other people's tests truncate the
#                           shared one, and its apps hold secrets sealed with other keys, which the
#                           gateway refuses at startup); empty: use GATEWAY_PG_URL's database as is
#   GATEWAY_PG_URL, GATEWAY_REDIS_URL as for the gateway; other GATEWAY_* (e.g.
#   GATEWAY_STREAM_WINDOW) pass through to the gateway.
# The whole script is one compound command, read completely before it runs: safe to edit while a
# benchmark runs (perf/cluster-bench.sh runs it many times in a row).
{
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

SCENARIO=${1:-}
case $SCENARIO in
    drain | live | sustained) SCENARIOS=$SCENARIO ;;
    all) SCENARIOS="drain live sustained" ;;
    masking) SCENARIOS="masking" ;;
    replays) SCENARIOS="replays" ;;
    channels) SCENARIOS="channels" ;;
    *) echo "usage: perf/stream-bench.sh drain|live|sustained|all|masking|replays|channels   (settings: see the top of this file)" >&2; exit 2 ;;
esac
EVENTS=${STREAM_EVENTS:-1000000}
MERCHANTS=${STREAM_MERCHANTS:-1000}
CONNECTIONS=${STREAM_CONNECTIONS:-4}
NODES=${STREAM_NODES:-1}
[[ $NODES =~ ^[1-9]$ ]] || { echo "STREAM_NODES must be 1 to 9, not '$NODES'" >&2; exit 2; }
WARMUP=${STREAM_WARMUP:-15}
QUIET_WAIT=${BENCH_QUIET_WAIT:-180}
BENCH_JAVA_OPTS=${BENCH_JAVA_OPTS:--Xmx1g -XX:+UseParallelGC}
export GATEWAY_PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
export GATEWAY_REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/stream-bench.XXXXXX)}
mkdir -p "$OUT/cpu"
GATEWAY_JAR=${STREAM_GATEWAY_JAR:-$ROOT/gateway/target/gateway-0.1.0-SNAPSHOT.jar}
PERF_JAR=$ROOT/perf/target/ingest-bench.jar
TOOL_JAR=$OUT/stream-bench.jar

log() { echo "stream-bench: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
OTHERS='IngestBench|ingest-bench' # wait_other_benches: the load tool of perf/ingest-bench.sh
# shellcheck source=scripts/lib/gateway.sh
. "$ROOT/scripts/lib/gateway.sh"
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"
# shellcheck source=scripts/lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"

# ------------------------------------------------------------------ services, build

if [[ -x scripts/services.sh ]]; then
    scripts/services.sh >&2 || die "scripts/services.sh failed"
fi
psql -X -w -q "$GATEWAY_PG_URL" -c 'select 1' >/dev/null || die "cannot log in to PostgreSQL (GATEWAY_PG_URL)"
BENCH_DB=${STREAM_BENCH_DB-gateway_stream_bench}
if [[ -n $BENCH_DB ]]; then
    use_own_database "$BENCH_DB"
fi
redis-cli -u "$GATEWAY_REDIS_URL" ping >/dev/null || die "cannot reach Redis (GATEWAY_REDIS_URL)"

JETSTREAM=${STREAM_JETSTREAM:-1}
[[ " $SCENARIOS " == *" live "* || " $SCENARIOS " == *" sustained "* ]] || JETSTREAM=0
# The callback app of the channels scenario posts to the tool's receiver on loopback.
[[ $SCENARIOS != channels ]] || export GATEWAY_CALLBACK_ALLOWLIST=${GATEWAY_CALLBACK_ALLOWLIST:-127.0.0.1}
if ((JETSTREAM)) && [[ -z ${NATS_SERVER:-} ]]; then
    NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
    # Debian's package; scripts/lib/apt.sh keeps its system service from starting.
    [[ -x $NATS_SERVER ]] || apt_install nats-server
fi
((JETSTREAM == 0)) || [[ -x $NATS_SERVER ]] || die "no nats-server at $NATS_SERVER (set NATS_SERVER, or STREAM_JETSTREAM=0)"

if [[ ! -f $GATEWAY_JAR || ${BENCH_REBUILD:-0} == 1 ]]; then
    log "building (mvn -q -DskipTests package)..."
    wait_other_benches # the build replaces the jar IngestBench runs from
    mvn -q -DskipTests package >&2
elif ! unzip -l "$PERF_JAR" 2>/dev/null | grep -c 'io/orderpush/perf/StreamBench.class' >/dev/null ||
    [[ -n $(find perf/src -newer "$PERF_JAR" -name '*.java' 2>/dev/null) ]]; then
    log "building the load tool (mvn -q -o -pl perf -am -DskipTests package)..."
    wait_other_benches
    mvn -q -o -pl perf -am -DskipTests package >&2
fi
[[ -f $GATEWAY_JAR ]] || die "$GATEWAY_JAR missing after build"
# Private copies, so a concurrent rebuild cannot swap a jar under a running JVM. A rebuild in
# progress briefly leaves an unshaded jar in place: wait for a runnable one.
for i in $(seq 1 20); do
    cp "$GATEWAY_JAR" "$OUT/gateway.jar" 2>/dev/null && cp "$PERF_JAR" "$TOOL_JAR" 2>/dev/null &&
        unzip -p "$OUT/gateway.jar" META-INF/MANIFEST.MF 2>/dev/null | grep -c '^Main-Class:' >/dev/null &&
        unzip -l "$TOOL_JAR" 2>/dev/null | grep -c 'io/orderpush/perf/StreamBench.class' >/dev/null && break
    ((i < 20)) || die "jars not runnable (rebuild with mvn -q -DskipTests package)"
    log "jars not runnable yet (rebuild in progress?), retrying..."
    sleep 3
done

# ------------------------------------------------------------------ gateway

new_gateway_credentials

SAMPLER_PID=""
NATS_PID=""
NODE_PIDS=() # every node's pid (GW_PID: the first, once all are up)
NODE_BASES=()
stop_nodes() { # SIGTERM to every node started (also when a later one failed to start), up to 30 s, then SIGKILL
    local pid
    [[ -z $GW_PID ]] || [[ " ${NODE_PIDS[*]} " == *" $GW_PID "* ]] || NODE_PIDS+=("$GW_PID")
    ((${#NODE_PIDS[@]})) || return 0
    log "stopping gateway node(s) ${NODE_PIDS[*]} (SIGTERM)..."
    for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${NODE_PIDS[@]}"; do
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    NODE_PIDS=() GW_PID=""
}
cleanup() {
    [[ -z $SAMPLER_PID ]] || kill "$SAMPLER_PID" 2>/dev/null || true
    ! declare -F stop_nats >/dev/null || stop_nats
    stop_nodes
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every invocation is a cluster of its own, one node or several: other benchmarks, tests and
# drills share this Redis, and must never be handed its channels or hear its notices.
export GATEWAY_CLUSTER_NAME=${GATEWAY_CLUSTER_NAME:-sb-$$-$(date +%s)}
export GATEWAY_CONTROL_CHANNEL=${GATEWAY_CONTROL_CHANNEL:-gw:$GATEWAY_CLUSTER_NAME}
for n in $(seq 1 "$NODES"); do
    if ((NODES == 1)); then logfile=$OUT/gateway.log; else logfile=$OUT/gateway-$n.log; fi
    GATEWAY_JAVA=${BENCH_GATEWAY_JAVA:-java} GATEWAY_JAVA_OPTS=${BENCH_GATEWAY_JAVA_OPTS:-} start_gateway_process "$OUT/gateway.jar" "$logfile" GATEWAY_NODE_ID="sb-$n"
    NODE_PIDS+=("$GW_PID")
    NODE_BASES+=("$BASE")
done
GW_PID=${NODE_PIDS[0]} BASE=${NODE_BASES[0]}
printf '%s\n' "${NODE_PIDS[@]}" >"$OUT/gateway.pid"
URLS=$(IFS=,; echo "${NODE_BASES[*]}")
printf '%s\n' "${NODE_BASES[@]}" >"$OUT/nodes.txt" # for samplers outside (perf/cluster-bench.sh)
((NODES == 1)) || cp "$OUT/gateway-1.log" "$OUT/gateway.log"
# The seed writes masked renderings under the gateway's masking fingerprint, so delivery uses them.
SEED_MASKS=${STREAM_SEED_MASKS:-patch}
[[ $SEED_MASKS == patch || $SEED_MASKS == whole ]] || die "STREAM_SEED_MASKS must be patch or whole"
MASKED_BY=$(grep -o 'masking rules fingerprint [^)]*' "$OUT/gateway.log" | tail -n1 | awk '{ print $4 }')
[[ -n $MASKED_BY ]] || die "no masking fingerprint in $OUT/gateway.log"

# ------------------------------------------------------------------ measuring helpers

start_cpu_sampler "$TOOL_JAR"

# Every node's /metrics, summed per series (counters and histogram buckets add up across nodes;
# so do gauges, which here are per node), each node's own kept as <file>.<n>.
scrape() {
    local n
    for n in "${!NODE_BASES[@]}"; do
        curl -fsS "${NODE_BASES[$n]}/metrics" >"$1.$((n + 1))" 2>/dev/null || echo >"$1.$((n + 1))"
    done
    if ((NODES == 1)); then mv "$1.1" "$1"; return; fi
    awk '/^#/ { next } NF >= 2 { if (!($1 in v)) k[++n] = $1; v[$1] += $2 } END { for (i = 1; i <= n; i++) printf "%s %.17g\n", k[i], v[k[i]] }' \
        $(for n in "${!NODE_BASES[@]}"; do echo "$1.$((n + 1))"; done) >"$1"
}
# utime + stime of every node, in ticks.
nodes_cpu_ticks() {
    local pid
    for pid in "${NODE_PIDS[@]}"; do awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true; done |
        awk '{ t += $1 } END { print t + 0 }'
}
metric() { # file name [label-substring] -> value of the first matching sample (0 if none)
    awk -v n="$2" -v l="${3:-}" '{ split($1, a, "{") } a[1] == n && (l == "" || index($1, l)) { print $2; found = 1; exit }
        END { if (!found) print 0 }' "$1"
}
# One line of gateway delivery metrics over a run: deltas of the counters, current gauges.
delivery_metrics() { # before after
    local b=$1 a=$2
    awk -v s0="$(metric "$b" gateway_delivery_events_sent_total)" -v s1="$(metric "$a" gateway_delivery_events_sent_total)" \
        -v n0="$(metric "$b" gateway_delivery_batch_events_count)" -v n1="$(metric "$a" gateway_delivery_batch_events_count)" \
        -v k0="$(metric "$b" gateway_delivery_acks_total committed)" -v k1="$(metric "$a" gateway_delivery_acks_total committed)" \
        -v r0="$(metric "$b" gateway_delivery_redeliveries_total)" -v r1="$(metric "$a" gateway_delivery_redeliveries_total)" \
        -v p0="$(metric "$b" gateway_stream_paused_total)" -v p1="$(metric "$a" gateway_stream_paused_total)" \
        -v f0="$(metric "$b" gateway_delivery_read_failures_total)" -v f1="$(metric "$a" gateway_delivery_read_failures_total)" \
        -v q50="$(hist_quantile "$b" "$a" gateway_delivery_commit_to_send_seconds 0.5)" \
        -v q99="$(hist_quantile "$b" "$a" gateway_delivery_commit_to_send_seconds 0.99)" \
        -v c0="$(metric "$b" gateway_redis_commands_total)" -v c1="$(metric "$a" gateway_redis_commands_total)" \
        -v t0="$(gateway_cpu_ticks "$b")" -v t1="$(gateway_cpu_ticks "$a")" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { n = n1 - n0; if (n < 1) n = 1; e = s1 - s0; if (e < 1) e = 1
                 printf "gateway: %d events sent in %d batches (%.1f events/batch), %d acks committed, %d redelivered, %d paused, %d read failures; commit->send p50 %.1f ms p99 %.1f ms (over the run, from the histogram)\n",
                     s1 - s0, n1 - n0, (s1 - s0) / n, k1 - k0, r1 - r0, p1 - p0, f1 - f0, q50 * 1000, q99 * 1000
                 printf "  per delivered event: gateway CPU %.1f us (ingest included), %.3f messages, %.3f Redis commands\n",
                     (t1 - t0) / hz * 1e6 / e, (n1 - n0) / e, (c1 - c0) / e }'
    ((NODES == 1)) || awk -v g0="$(metric "$b" gateway_ingest_groups_total expected_heads)" -v g1="$(metric "$a" gateway_ingest_groups_total expected_heads)" \
        -v l0="$(metric "$b" gateway_ingest_groups_total locking)" -v l1="$(metric "$a" gateway_ingest_groups_total locking)" \
        -v r0="$(metric "$b" gateway_ingest_groups_replanned_total)" -v r1="$(metric "$a" gateway_ingest_groups_replanned_total)" \
        -v w0="$(metric "$b" gateway_delivery_claims_waiting_total)" -v w1="$(metric "$a" gateway_delivery_claims_waiting_total)" \
        -v h0="$(metric "$b" gateway_delivery_head_notices_total published)" -v h1="$(metric "$a" gateway_delivery_head_notices_total published)" \
        -v x0="$(metric "$b" gateway_delivery_head_notices_total received)" -v x1="$(metric "$a" gateway_delivery_head_notices_total received)" \
        -v o0="$(metric "$b" gateway_delivery_takeovers_total)" -v o1="$(metric "$a" gateway_delivery_takeovers_total)" \
        'BEGIN { printf "  cluster (%d nodes, summed): ingest groups %d expected_heads / %d locking, %d replanned; head notices %d published, %d received; claims waited %d, takeovers %d\n",
                     '"$NODES"', g1 - g0, l1 - l0, r1 - r0, h1 - h0, x1 - x0, w1 - w0, o1 - o0 }'
}
# The gateway's CPU ticks (user + system) when a scrape was taken: kept beside it by scrape_cpu.
gateway_cpu_ticks() { # metrics-file
    cat "$1.cpu" 2>/dev/null || echo 0
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

SYNC_COMMIT=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW synchronous_commit')
PGVER=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW server_version')
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain -- persistence gateway delivery 2>/dev/null) ]] || GIT_REV="$GIT_REV+uncommitted"
echo "== stream benchmarks: $(nproc) cores ($NODES gateway node(s) of cluster $GATEWAY_CLUSTER_NAME, PostgreSQL $PGVER synchronous_commit=$SYNC_COMMIT, Redis and the load tool on one box), gateway $GIT_REV, output in $OUT"

tool() { # scenario tag args... -> runs StreamBench, output to $OUT/<tag>.log (and stdout)
    local scenario=$1 tag=$2
    shift 2
    scrape "$OUT/metrics-$tag-before.txt"
    nodes_cpu_ticks >"$OUT/metrics-$tag-before.txt.cpu"
    local rc=0 threads
    # Busiest gateway threads every 20 s (which event loop, pool or GC thread is saturated).
    ( while sleep 20; do
        echo "== $(date +%T)"
        top -H -b -w 200 -d 2 -n 2 -p "$(IFS=,; echo "${NODE_PIDS[*]}")" | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 3 { c = $12; for (i = 13; i <= NF; i++) c = c " " $i; print "  tid " $1 " " $9 "% " c }' | head -n 12
    done ) >"$OUT/threads-$tag.txt" 2>/dev/null &
    threads=$!
    # shellcheck disable=SC2086
    java $BENCH_JAVA_OPTS -cp "$TOOL_JAR" io.orderpush.perf.StreamBench "$scenario" --urls="$URLS" "$@" 2>&1 |
        tee "$OUT/$tag.log" | grep --line-buffered -v '^ROW' | sed -u 's/^/  /' || rc=${PIPESTATUS[0]}
    kill "$threads" 2>/dev/null || true
    sleep 0.5
    scrape "$OUT/metrics-$tag-after.txt"
    nodes_cpu_ticks >"$OUT/metrics-$tag-after.txt.cpu"
    echo "  $(delivery_metrics "$OUT/metrics-$tag-before.txt" "$OUT/metrics-$tag-after.txt")"
    return $rc
}

failed=0

# ------------------------------------------------------------------ drain

run_drain() { # [label scopes]: label names the tables and logs (default drain)
    local label=${1:-drain} scopes=${2-${STREAM_SCOPES:-}}
    local runs=${STREAM_RUNS:-3} run m t0 t1 rc row app cursor cpu
    [[ -f $OUT/$label.tsv ]] || printf 'run\tevents\tseconds\tevents_per_s\tseconds_from_first\tevents_per_message\terrors\tcursor_ok\tseed_s\tcpu_gateway\tcpu_tool\tcpu_postgres\tcpu_redis\tcpu_other\tcpu_machine\tiowait\n' >"$OUT/$label.tsv"
    echo "== $label: $EVENTS stored events of one merchant, one consumer acking each message, scopes '${scopes}', $runs runs"
    local base=$(($(wc -l <"$OUT/$label.tsv") - 1)) # runs of this label so far (run_masking)
    for run in $(seq $((base + 1)) $((base + runs))); do
        m=drain-$(date +%s)-r$run
        t0=$(date +%s.%N)
        psql -X -w -q -v merchant="$m" -v events="$EVENTS" -v masked_by="$MASKED_BY" -v masks="$SEED_MASKS" -f perf/stream-seed.sql "$GATEWAY_PG_URL" >"$OUT/seed-$run.txt" ||
            die "seeding $m failed"
        t1=$(date +%s.%N)
        echo "  run $run: seeded $m: $(tail -n +3 "$OUT/seed-$run.txt" | head -n1 | tr -s ' ') (chunks|events|first|last) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
        before_run
        rc=0
        tool drain "$label-r$run" --merchant="$m" --events="$EVENTS" --scopes="$scopes" || rc=$?
        row=$(grep -P '^ROW\tdrain\t' "$OUT/$label-r$run.log" | tail -n1 || true)
        [[ -n $row ]] || { failed=1; log "drain run $run produced no result"; continue; }
        ((rc == 0)) || failed=1
        app=$(cut -f9 <<<"$row")
        # The last ack is a message without an answer: give it a moment to reach Redis.
        cursor=""
        for _ in $(seq 1 50); do
            cursor=$(redis-cli -u "$GATEWAY_REDIS_URL" HGET "gw:ch:{$app:$m}" cursor)
            [[ $cursor == "$EVENTS" ]] && break
            sleep 0.1
        done
        if [[ $cursor == "$EVENTS" ]]; then echo "  run $run: Redis cursor gw:ch:{$app:$m} = $cursor: ok"
        else echo "  run $run: ERROR: Redis cursor gw:ch:{$app:$m} = '$cursor', expected $EVENTS"; failed=1; fi
        cpu=$(cpu_split "$(cut -f10 <<<"$row")" "$(cut -f11 <<<"$row")")
        echo "  run $run: CPU % of one core (gateway tool postgres redis other; machine of $(($(nproc) * 100)), iowait): $cpu"
        printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$(cut -f3-8 <<<"$row")" "$([[ $cursor == "$EVENTS" ]] && echo yes || echo NO)" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "$(tr ' ' '\t' <<<"$cpu")" >>"$OUT/$label.tsv"
    done
    col() { awk -F'\t' -v c="$1" 'NR > 1 { print $c }' "$OUT/$label.tsv" | median; }
    echo "== $label medians of $(($(wc -l <"$OUT/$label.tsv") - 1)) runs: $(col 4) events/s ($(col 3) s for $EVENTS events; $(col 5) s from the first event);" \
        "$(col 6) events/message; CPU % gateway/tool/postgres/redis/other: $(col 10)/$(col 11)/$(col 12)/$(col 13)/$(col 14) (table: $OUT/$label.tsv)"
}

# ------------------------------------------------------------------ live, sustained

STEP_HEADER='run\ttarget\tingested_per_s\tdelivered_per_s\tlag_start\tlag_end\tlag_max\tmissed\trejected_503\tlat_p50_ms\tlat_p99_ms\tlat_p999_ms\tlat_max_ms\tingest_p50_ms\tingest_p99_ms\tingest_max_ms\tbounded\tcpu_gateway\tcpu_tool\tcpu_postgres\tcpu_redis\tcpu_other\tcpu_machine\tiowait\n'

steps_to_tsv() { # tag run tsv
    local row cpu
    while IFS= read -r row; do
        cpu=$(cpu_split "$(cut -f19 <<<"$row")" "$(cut -f20 <<<"$row")")
        printf '%s\t%s\t%s\n' "$2" "$(cut -f3-18 <<<"$row")" "$(tr ' ' '\t' <<<"$cpu")" >>"$3"
        echo "  step $(cut -f3 <<<"$row")/s: CPU % of one core (gateway tool postgres redis other; machine, iowait): $cpu"
    done < <(grep -P '^ROW\tstep\t' "$OUT/$1.log" || true)
}

run_load() { # live|sustained [label scopes]
    local scenario=$1 label=${2:-$1} scopes=${3-${STREAM_SCOPES:-}} runs=${STREAM_RUNS:-1} run rc args
    [[ -f $OUT/$label.tsv ]] || printf "$STEP_HEADER" >"$OUT/$label.tsv"
    local base=$(($(wc -l <"$OUT/$label.tsv") - 1))
    if [[ $scenario == live ]]; then
        args=(--rate="${STREAM_RATE:-5000}" --duration="${STREAM_DURATION:-60}" --batch="${STREAM_BATCH:-50}")
        echo "== live: ${STREAM_RATE:-5000} events/s (open model, batches of ${STREAM_BATCH:-50}) over $MERCHANTS merchants," \
            "$CONNECTIONS consumer connections, ${WARMUP}s warm-up + ${STREAM_DURATION:-60}s measured, $runs run(s)"
    else
        args=(--rates="${STREAM_RATES:-10000,15000,20000,25000,30000}" --step="${STREAM_STEP:-30}" --batch="${STREAM_BATCH:-100}"
            --stop-after="${STREAM_STOP_AFTER:-0}")
        echo "== sustained: steps ${STREAM_RATES:-10000,15000,20000,25000,30000} events/s (batches of ${STREAM_BATCH:-100})," \
            "${STREAM_STEP:-30}s each, over $MERCHANTS merchants, $CONNECTIONS consumer connections, $runs run(s)"
    fi
    for run in $(seq $((base + 1)) $((base + runs))); do
        before_run
        rc=0
        tool "$scenario" "$label-r$run" --merchants="$MERCHANTS" --connections="$CONNECTIONS" --warmup="$WARMUP" --scopes="$scopes" \
            --ingest-nodes="${STREAM_INGEST_NODES:-$NODES}" "${args[@]}" || rc=$?
        ((rc == 0)) || { failed=1; log "$label run $run reported errors (exit $rc), see $OUT/$label-r$run.log"; }
        steps_to_tsv "$label-r$run" "$run" "$OUT/$label.tsv"
    done
    echo "== $label per step, scopes '${scopes}' (table: $OUT/$label.tsv)"
    column -t -s $'\t' "$OUT/$label.tsv" | sed 's/^/  /'
}

# Guarantee 6's cost: the same scenario for an app with the pii scope (personal data whole) and one
# without (masked), in turn, STREAM_RUNS times each (default 3), so both see the same machine.
run_masking() {
    local n=${STREAM_RUNS:-3} i
    for i in $(seq 1 "$n"); do
        STREAM_RUNS=1 run_drain drain-pii pii
        STREAM_RUNS=1 run_drain drain-masked ""
    done
    for i in $(seq 1 "$n"); do
        STREAM_RUNS=1 run_load live live-pii pii
        STREAM_RUNS=1 run_load live live-masked ""
    done
    local v
    for v in pii masked; do
        echo "== drain-$v: events/s per run $(awk -F'\t' 'NR > 1 { printf "%s ", $4 }' "$OUT/drain-$v.tsv")," \
            "median $(awk -F'\t' 'NR > 1 { print $4 }' "$OUT/drain-$v.tsv" | median)"
        echo "== live-$v: commit->arrival p99 ms per run $(awk -F'\t' 'NR > 1 { printf "%s ", $11 }' "$OUT/live-$v.tsv")," \
            "median $(awk -F'\t' 'NR > 1 { print $11 }' "$OUT/live-$v.tsv" | median)"
    done
}

# Issue 10.5: live delivery to one app, alone and while another app replays a long history
# (STREAM_REPLAYS replays at once, looping), STREAM_RUNS times each in turn.
run_replays() {
    local n=${STREAM_RUNS:-3} replays=${STREAM_REPLAYS:-2} i r m app token pids before after
    m=replayed-$(date +%s)
    psql -X -w -q -v merchant="$m" -v events="$EVENTS" -v masked_by="$MASKED_BY" -v masks="$SEED_MASKS" -f perf/stream-seed.sql "$GATEWAY_PG_URL" >"$OUT/seed-replayed.txt" ||
        die "seeding $m failed"
    app=$(curl -fsS -H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" -H 'Content-Type: application/json' \
        -d '{"name":"replayer","delivery":{"mode":"websocket"}}' "$BASE/v1/apps")
    token=$(sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"$app")
    curl -fsS -o /dev/null -X PUT -H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" -H 'Content-Type: application/json' \
        -d '{"start":"earliest"}' "$BASE/v1/merchants/$m/grants/$(sed -E 's/.*"appId":"([^"]+)".*/\1/' <<<"$app")"
    echo "== replays: $replays replay(s) at once of $EVENTS events of $m by another app, looping during the measured live run"
    for i in $(seq 1 "$n"); do
        STREAM_RUNS=1 run_load live live-alone ""
        pids=()
        for r in $(seq 1 "$replays"); do
            ( while true; do curl -sS -o /dev/null -H "Authorization: Bearer $token" "$BASE/v1/merchants/$m/events" || sleep 0.2; done ) &
            pids+=($!)
        done
        scrape "$OUT/metrics-replays-$i-before.txt"
        STREAM_RUNS=1 run_load live live-replays ""
        scrape "$OUT/metrics-replays-$i-after.txt"
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
        before=$(metric "$OUT/metrics-replays-$i-before.txt" gateway_replay_events_total)
        after=$(metric "$OUT/metrics-replays-$i-after.txt" gateway_replay_events_total)
        echo "  replays during run $i: $(awk -v a="$before" -v b="$after" 'BEGIN { printf "%d", b - a }') events streamed"
    done
    local v
    for v in alone replays; do
        echo "== live-$v: commit->arrival p99 ms per run $(awk -F'\t' 'NR > 1 { printf "%s ", $11 }' "$OUT/live-$v.tsv")," \
            "median $(awk -F'\t' 'NR > 1 { print $11 }' "$OUT/live-$v.tsv" | median)"
    done
}

# Coordination traffic at many channels (issue 12): the tool's ROW phase lines give the windows.
run_channels() {
    local merchants=${STREAM_CHANNEL_MERCHANTS:-50000} rc=0
    echo "== channels: a websocket app ($CONNECTIONS connections) and a callback app, $merchants merchants granted to each" \
        "($((2 * merchants)) channels) on $NODES node(s); ${STREAM_IDLE:-60}s idle, then ${STREAM_RATE:-1000} events/s for ${STREAM_DURATION:-60}s"
    before_run
    tool channels channels --merchants="$merchants" --connections="$CONNECTIONS" --rate="${STREAM_RATE:-1000}" \
        --duration="${STREAM_DURATION:-60}" --idle="${STREAM_IDLE:-60}" --batch="${STREAM_BATCH:-50}" || rc=$?
    ((rc == 0)) || { failed=1; log "channels run reported errors (exit $rc), see $OUT/channels.log"; }
    local row
    while IFS= read -r row; do
        echo "  phase $(cut -f3 <<<"$row"): CPU % of one core (gateway tool postgres redis other; machine, iowait): $(cpu_split "$(cut -f4 <<<"$row")" "$(cut -f5 <<<"$row")")"
    done < <(grep -P '^ROW\tphase\t' "$OUT/channels.log" || true)
}

# ------------------------------------------------------------------ JetStream baseline

# A private nats-server with JetStream for one run: a free port, its store under $OUT (the same
# disk as the output; file storage, default sync), its pid in $OUT/nats-server.pid for the CPU
# sampler (the "nats" class of scripts/lib/bench.sh).
start_nats() { # tag
    local tag=$1 port i
    port=$(free_port)
    NATS_STORE=$OUT/jetstream-$tag
    mkdir -p "$NATS_STORE"
    cat >"$OUT/nats-$tag.conf" <<EOF
listen: 127.0.0.1:$port
server_name: stream-bench-$tag
jetstream {
    store_dir: "$NATS_STORE"
}
EOF
    "$NATS_SERVER" -c "$OUT/nats-$tag.conf" >"$OUT/nats-$tag.log" 2>&1 &
    NATS_PID=$!
    echo "$NATS_PID" >"$OUT/nats-server.pid"
    NATS_URL=nats://127.0.0.1:$port
    for i in $(seq 1 100); do
        grep -q 'Server is ready' "$OUT/nats-$tag.log" 2>/dev/null && return 0
        kill -0 "$NATS_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$OUT/nats-$tag.log" >&2
    die "nats-server did not start (log: $OUT/nats-$tag.log)"
}

# Stops it with SIGTERM and deletes its store (the tool deletes its stream; this frees the rest).
stop_nats() {
    [[ -n $NATS_PID ]] || return 0
    kill "$NATS_PID" 2>/dev/null || true
    wait "$NATS_PID" 2>/dev/null || true
    NATS_PID=""
    rm -f "$OUT/nats-server.pid"
    [[ -z ${NATS_STORE:-} ]] || rm -rf "$NATS_STORE"
}

JS_CPU_CLASSES="nats tool gateway postgres redis"
JS_STEP_HEADER='run\ttarget\tstored_per_s\tdelivered_per_s\tlag_start\tlag_end\tlag_max\tmissed\tfailed_publishes\tpub_recv_p50_ms\tpub_recv_p99_ms\tpub_recv_p999_ms\tpub_recv_max_ms\tpuback_p50_ms\tpuback_p99_ms\tpuback_max_ms\tbounded\tcpu_nats\tcpu_tool\tcpu_gateway\tcpu_postgres\tcpu_redis\tcpu_other\tcpu_machine\tiowait\tstore_recv_p50_ms\tstore_recv_p99_ms\tstore_recv_p999_ms\n'

# The gateway's scenario against JetStream, STREAM_RUNS times, each on a fresh nats-server (the
# gateway stays up, idle: its CPU is a column of its own).
run_jetstream() { # live|sustained
    local scenario=$1 label=$1-jetstream runs=${STREAM_RUNS:-1} run rc args row cpu tag
    [[ -f $OUT/$label.tsv ]] || printf "$JS_STEP_HEADER" >"$OUT/$label.tsv"
    local base=$(($(wc -l <"$OUT/$label.tsv") - 1))
    if [[ $scenario == live ]]; then
        args=(--rate="${STREAM_RATE:-5000}" --duration="${STREAM_DURATION:-60}" --batch="${STREAM_BATCH:-50}")
    else
        args=(--rates="${STREAM_JETSTREAM_RATES:-${STREAM_RATES:-10000,15000,20000,25000,30000}}" --step="${STREAM_STEP:-30}"
            --batch="${STREAM_BATCH:-100}" --extend-to="${STREAM_JETSTREAM_EXTEND_TO:-100000}")
    fi
    echo "== $label: the same scenario against NATS JetStream ($("$NATS_SERVER" --version 2>&1 | head -n1), private server," \
        "file store under $OUT): ${args[*]}, $MERCHANTS subjects, $CONNECTIONS consumers, ${WARMUP}s warm-up, $runs run(s)"
    for run in $(seq $((base + 1)) $((base + runs))); do
        tag=$label-r$run
        before_run
        start_nats "$tag"
        rc=0
        # shellcheck disable=SC2086
        java $BENCH_JAVA_OPTS -cp "$TOOL_JAR" io.orderpush.perf.JetStreamBench "$scenario" --url="$NATS_URL" \
            --merchants="$MERCHANTS" --connections="$CONNECTIONS" --warmup="$WARMUP" "${args[@]}" 2>&1 |
            tee "$OUT/$tag.log" | grep --line-buffered -v '^ROW' | sed -u 's/^/  /' || rc=${PIPESTATUS[0]}
        echo "  nats-server store at the end (stream deleted): $(du -sh "$NATS_STORE" 2>/dev/null | cut -f1)"
        stop_nats
        ((rc == 0)) || { failed=1; log "$label run $run reported errors (exit $rc), see $OUT/$tag.log"; }
        while IFS= read -r row; do
            cpu=$(cpu_split "$(cut -f19 <<<"$row")" "$(cut -f20 <<<"$row")" "$JS_CPU_CLASSES")
            printf '%s\t%s\t%s\t%s\n' "$run" "$(cut -f3-18 <<<"$row")" "$(tr ' ' '\t' <<<"$cpu")" "$(cut -f21-23 <<<"$row")" >>"$OUT/$label.tsv"
            echo "  step $(cut -f3 <<<"$row")/s: CPU % of one core ($JS_CPU_CLASSES other; machine, iowait): $cpu"
        done < <(grep -P '^ROW\tstep\t' "$OUT/$tag.log" || true)
    done
    echo "== $label per step (table: $OUT/$label.tsv; pub_recv = publish -> receipt, puback = burst due -> its last PubAck," \
        "store_recv = the stream's timestamp of the message -> receipt)"
    column -t -s $'\t' "$OUT/$label.tsv" | sed 's/^/  /'
}

# Per run, the gateway's figures beside JetStream's, ratio gateway / JetStream. live: at the one
# rate, latency to arrival (gateway: commit -> arrival; JetStream: publish -> receipt, its storing
# included) and server CPU per delivered event; sustained: the highest step with bounded lag and
# what was delivered there. Pairs run n of the gateway with run n of JetStream.
compare_jetstream() { # live|sustained
    local scenario=$1 gw=$OUT/$1.tsv js=$OUT/$1-jetstream.tsv
    echo "== $scenario: gateway / JetStream in this invocation (tables $gw, $js)"
    awk -F'\t' -v scenario="$scenario" '
        function ratio(a, b) { return (b + 0 > 0 && a != "-" && b != "-") ? sprintf("%.2f", a / b) : "-" }
        function us(cpu, rate) { return (rate + 0 > 0 && cpu != "-") ? cpu / 100 * 1e6 / rate : 0 }
        FNR == 1 { f++; next }
        f == 1 { r = $1; n = ++gn[r]; for (i = 1; i <= NF; i++) g[r, n, i] = $i; if ($17 == "yes" && !gstop[r]) gbest[r] = n; else gstop[r] = 1 }
        f == 2 { r = $1; n = ++jn[r]; for (i = 1; i <= NF; i++) j[r, n, i] = $i; if ($17 == "yes" && !jstop[r]) jbest[r] = n; else jstop[r] = 1 }
        END {
            for (r = 1; (r in gn) || (r in jn); r++) {
                if (!(r in gn) || !(r in jn)) { printf "  run %d: no pair (gateway steps %d, JetStream steps %d)\n", r, gn[r], jn[r]; continue }
                if (scenario == "live") {
                    gs = 1; js = 1
                    printf "  run %d at %s/s             gateway      JetStream    gateway/JetStream\n", r, g[r, 1, 2]
                    printf "    delivered/s             %-12s %-12s %s\n", g[r, 1, 4], j[r, 1, 4], ratio(g[r, 1, 4], j[r, 1, 4])
                    printf "    to arrival p50 ms       %-12s %-12s %s\n", g[r, 1, 10], j[r, 1, 10], ratio(g[r, 1, 10], j[r, 1, 10])
                    printf "    to arrival p99 ms       %-12s %-12s %s\n", g[r, 1, 11], j[r, 1, 11], ratio(g[r, 1, 11], j[r, 1, 11])
                    printf "    to arrival p999 ms      %-12s %-12s %s\n", g[r, 1, 12], j[r, 1, 12], ratio(g[r, 1, 12], j[r, 1, 12])
                    printf "    ingest/PubAck p99 ms    %-12s %-12s %s\n", g[r, 1, 15], j[r, 1, 15], ratio(g[r, 1, 15], j[r, 1, 15])
                    printf "    (JetStream from its store: p50 %s p99 %s p999 %s ms; gateway from commit, as above)\n", j[r, 1, 26], j[r, 1, 27], j[r, 1, 28]
                } else {
                    if (!(r in gbest) || !(r in jbest)) { printf "  run %d: no bounded step (gateway %s, JetStream %s)\n", r, (r in gbest) ? g[r, gbest[r], 2] : "none", (r in jbest) ? j[r, jbest[r], 2] : "none"; continue }
                    gs = gbest[r]; js = jbest[r]
                    printf "  run %d                      gateway      JetStream    gateway/JetStream\n", r
                    printf "    highest bounded step/s  %-12s %-12s %s%s%s\n", g[r, gs, 2], j[r, js, 2], ratio(g[r, gs, 2], j[r, js, 2]),
                        (gs == gn[r] ? "  (the gateway was bounded at every step: its ceiling may be higher)" : ""),
                        (js == jn[r] ? "  (JetStream was bounded at every step: its ceiling may be higher)" : "")
                    printf "    delivered/s there       %-12s %-12s %s\n", g[r, gs, 4], j[r, js, 4], ratio(g[r, gs, 4], j[r, js, 4])
                    printf "    to arrival p99 ms there %-12s %-12s %s\n", g[r, gs, 11], j[r, js, 11], ratio(g[r, gs, 11], j[r, js, 11])
                }
                # CPU columns from 18: gateway table gateway tool postgres redis other machine iowait;
                # JetStream table nats tool gateway postgres redis other machine iowait.
                printf "    server CPU %% of a core  %-12s %-12s %s   (gateway, ingest included / nats-server)\n", g[r, gs, 18], j[r, js, 18], ratio(g[r, gs, 18], j[r, js, 18])
                gu = us(g[r, gs, 18], g[r, gs, 4]); ju = us(j[r, js, 18], j[r, js, 4])
                printf "    server CPU us/event     %-12.1f %-12.1f %s\n", gu, ju, ratio(gu, ju)
                printf "    CPU %% tool/postgres/redis/other/machine: gateway run %s/%s/%s/%s/%s, JetStream run %s/%s/%s/%s/%s (idle gateway %s)\n",
                    g[r, gs, 19], g[r, gs, 20], g[r, gs, 21], g[r, gs, 22], g[r, gs, 23],
                    j[r, js, 19], j[r, js, 21], j[r, js, 22], j[r, js, 23], j[r, js, 24], j[r, js, 20]
            }
        }' "$gw" "$js"
    echo "  (JetStream does not fsync each message by default: nats-server fsyncs its file store in the background, every 60 s in v2.9;" \
        "the gateway acks ingest after a commit with synchronous_commit=$SYNC_COMMIT)"
}

for s in $SCENARIOS; do
    case $s in
        drain) run_drain ;;
        masking) run_masking ;;
        replays) run_replays ;;
        channels) run_channels ;;
        *)
            run_load "$s"
            if ((JETSTREAM)); then
                run_jetstream "$s"
                compare_jetstream "$s"
            fi
            ;;
    esac
done
top -b -n 1 | head -n 15 >"$OUT/top-end.txt"
((failed == 0)) || { log "some runs reported errors, see $OUT"; exit 1; }
exit 0
}
