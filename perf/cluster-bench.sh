#!/usr/bin/env bash
# Several gateway nodes as one (issue 12, "Benchmarks"): see perf/README.md ("Across nodes").
#
#   perf/cluster-bench.sh sustained   the sustained rate with bounded lag of 1 node and of 3 nodes,
#                                     in turn in one invocation (same machine, same cores: the
#                                     difference is the cost of coordination), with the ratio
#   perf/cluster-bench.sh traffic     Redis commands/s by type and pub/sub messages/s of a 3-node
#                                     cluster holding 10,000 and then 100,000 channels, idle and at
#                                     a modest ingest rate, on a private Redis
#   perf/cluster-bench.sh takeover    CLUSTER_KILLS drills with 3 nodes, node 3 SIGKILLed at the peak
#                                     (DRILL_NODES=3 DRILL_KILL_NODE_AT=45 DRILL_SCALE=small
#                                     scripts/drill.sh), then per run and over the runs the time from
#                                     the kill to the live nodes' claims of the dead node's channels
#
# sustained and traffic run perf/stream-bench.sh (STREAM_NODES; its sustained and channels
# scenarios) and add up what it printed.
#
# Overridable by environment:
#   CLUSTER_NODES=3            nodes of the cluster side
#   CLUSTER_PAIRS=3            sustained: runs of each side, in turn (1 node, N nodes, 1 node, ...)
#   CLUSTER_NODE_JAVA_OPTS     sustained: JVM options for each node of the N-node side only; default
#                              -XX:ActiveProcessorCount=<cores / N, at least 1>: each node sized to
#                              its share of the box, as the single node is sized to all of it (its
#                              event loops, collector threads and pools; docs/operations.md,
#                              "Several nodes on one machine"). Set it empty for the JVM's own
#                              sizing, every node then planning for all the cores (perf/README.md,
#                              "Session 22")
#   CLUSTER_INGEST_ONE         sustained: set (to anything) for a third run in each round: N nodes with
#                              ingest through node 1 only (consumers still spread), which shows what
#                              writing the same merchants through several nodes costs
#   STREAM_RATES=10000,12500,...,30000 (steps of 2,500), STREAM_STEP=20, STREAM_STOP_AFTER=2,
#   STREAM_CONNECTIONS=6, STREAM_BATCH=100, STREAM_WARMUP=60
#                              sustained: as for perf/stream-bench.sh (defaults here: finer steps than
#                              its own, cut short after 2 unbounded steps in a row; 6 connections so
#                              that 3 nodes hold 2 each)
#   CLUSTER_CHANNEL_MERCHANTS="5000 50000"
#                              traffic: merchants per app, one run each (2 apps: twice the channels)
#   STREAM_RATE=1000, STREAM_IDLE=60, STREAM_DURATION=60
#                              traffic: the load phase's events/s, the idle and load phases' seconds
#   CLUSTER_KILLS=5            takeover: drills (DRILL_* pass through: DRILL_SCALE=small,
#                              DRILL_KILL_NODE_AT=45, DRILL_DB=gateway_cluster_drill by default)
#   CLUSTER_BENCH_OUT          output directory (default: a new temp dir)
#   STREAM_BENCH_DB=gateway_cluster_bench, BENCH_QUIET_WAIT=60, other STREAM_*, BENCH_* and GATEWAY_*
#                              pass through to perf/stream-bench.sh
# The whole script is one compound command, read completely before it runs: safe to edit while it runs.
{
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-}
case $MODE in
    sustained | traffic | takeover) ;;
    *) echo "usage: perf/cluster-bench.sh sustained|traffic|takeover   (settings: see the top of this file)" >&2; exit 2 ;;
esac
log() { echo "cluster-bench: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
OUT=${CLUSTER_BENCH_OUT:-$(mktemp -d /tmp/cluster-bench.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NODES=${CLUSTER_NODES:-3}
export STREAM_BENCH_DB=${STREAM_BENCH_DB:-gateway_cluster_bench}
export BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-60}
export STREAM_JETSTREAM=0
# shellcheck source=scripts/lib/gateway.sh
. "$ROOT/scripts/lib/gateway.sh" # free_port

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) print lo "-" hi; else print "-" }'; }
load_note() { # one line: load average and the busiest other processes (not ours)
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg); top others: $(top -b -n 1 -w 200 | awk 'NR > 7 && $9 + 0 >= 5 { printf "%s %s%% ", $12, $9 }' | head -c 200)"
}

# ------------------------------------------------------------------ sustained: 1 node vs N nodes

run_sustained() {
    local share
    share=$(($(nproc) / NODES))
    SHARE_OPTS=-XX:ActiveProcessorCount=$((share < 1 ? 1 : share))
    export STREAM_RATES=${STREAM_RATES:-10000,12500,15000,17500,20000,22500,25000,27500,30000}
    export STREAM_STEP=${STREAM_STEP:-20} STREAM_STOP_AFTER=${STREAM_STOP_AFTER:-2}
    # 60 s, not stream-bench's 15: three JVMs still compile on 2 cores a minute in (the C2
    # threads took 44% of a core 40-60 s into a 3-node run), which is warm-up, not coordination
    export STREAM_WARMUP=${STREAM_WARMUP:-60}
    export STREAM_CONNECTIONS=${STREAM_CONNECTIONS:-6}
    local pairs=${CLUSTER_PAIRS:-3} i n out rc
    echo "== cluster-bench sustained: 1 node and $NODES nodes in turn, $pairs run(s) each; steps $STREAM_RATES events/s," \
        "${STREAM_STEP}s each, $STREAM_CONNECTIONS consumer connections; JVM options of each of the $NODES nodes:" \
        "'${CLUSTER_NODE_JAVA_OPTS-$SHARE_OPTS}'; output in $OUT"
    printf 'run\tnodes\thighest_bounded\tdelivered_there\tp99_there_ms\tcpu_gateway_there\tcpu_other_there\tcpu_machine_there\tload_before\n' >"$OUT/sustained.tsv"
    for i in $(seq 1 "$pairs"); do
        for n in 1 "$NODES" ${CLUSTER_INGEST_ONE:+$NODES-ingest1}; do
            out=$OUT/n$n-r$i
            local before
            before=$(load_note)
            echo "== run $i, $n node(s): $before"
            rc=0
            local jvm=${BENCH_GATEWAY_JAVA_OPTS:-}
            [[ $n == 1 ]] || jvm="$jvm ${CLUSTER_NODE_JAVA_OPTS-$SHARE_OPTS}"
            STREAM_NODES=${n%-ingest1} STREAM_INGEST_NODES=$([[ $n == *-ingest1 ]] && echo 1 || echo "${n%-ingest1}") BENCH_OUT=$out \
                BENCH_GATEWAY_JAVA_OPTS="$jvm" perf/stream-bench.sh sustained >"$out.log" 2>&1 || rc=$?
            grep -E '^  (STEP|gateway:|  per delivered|  cluster|stopping)|ERROR' "$out.log" | sed 's/^/  /' || true
            ((rc == 0)) || log "run $i with $n node(s) exited $rc (see $out.log)"
            # The highest step bounded before the first unbounded one, and what it did there.
            awk -F'\t' -v r="$i" -v n="$n" -v load="$(cut -d' ' -f3 <<<"$before")" '
                NR > 1 && !stop { if ($17 == "yes") { best = $2; d = $4; p = $11; g = $18; o = $22; m = $23 } else stop = 1 }
                END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r, n, best + 0, d + 0, p + 0, g, o, m, load }' \
                "$out/sustained.tsv" >>"$OUT/sustained.tsv" 2>/dev/null ||
                printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\n' "$i" "$n" >>"$OUT/sustained.tsv"
            echo "  => $(tail -n1 "$OUT/sustained.tsv" | awk -F'\t' '{ printf "highest bounded step %s/s (delivered %s/s, p99 %s ms; CPU %% of a core: gateway %s, other %s, machine %s of 200)", $3, $4, $5, $6, $7, $8 }')"
        done
    done
    echo "== sustained, highest bounded step (table: $OUT/sustained.tsv)"
    column -t -s $'\t' "$OUT/sustained.tsv" | sed 's/^/  /'
    local one many
    one=$(awk -F'\t' 'NR > 1 && $2 == 1 { print $3 }' "$OUT/sustained.tsv")
    many=$(awk -F'\t' -v n="$NODES" 'NR > 1 && $2 == n { print $3 }' "$OUT/sustained.tsv")
    echo "  1 node:     median $(median <<<"$one") events/s (runs: $(tr '\n' ' ' <<<"$one"); range $(range <<<"$one"))"
    echo "  $NODES nodes:    median $(median <<<"$many") events/s (runs: $(tr '\n' ' ' <<<"$many"); range $(range <<<"$many"))"
    awk -F'\t' -v n="$NODES" 'NR > 1 && $2 == 1 { o[$1] = $3 } NR > 1 && $2 == n { m[$1] = $3 }
        END { for (r in o) if ((r in m) && o[r] > 0) print m[r] / o[r] }' "$OUT/sustained.tsv" >"$OUT/ratios.txt"
    local one_ing
    one_ing=$(awk -F'\t' -v n="$NODES-ingest1" 'NR > 1 && $2 == n { print $3 }' "$OUT/sustained.tsv")
    [[ -z $one_ing ]] || echo "  $NODES nodes, ingest through node 1 only: median $(median <<<"$one_ing") events/s (runs: $(tr '\n' ' ' <<<"$one_ing"))"
    echo "  ratio $NODES nodes / 1 node: median of medians $(awk -v a="$(median <<<"$many")" -v b="$(median <<<"$one")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')," \
        "per pair $(sort -g "$OUT/ratios.txt" | awk '{ printf "%.2f ", $1 }')(goal >= 0.80)"
}

# ------------------------------------------------------------------ traffic at many channels

REDIS_PID="" SUB_PID="" SAMPLER=""
stop_private_redis() {
    [[ -z $SAMPLER ]] || kill "$SAMPLER" 2>/dev/null || true
    [[ -z $SUB_PID ]] || kill "$SUB_PID" 2>/dev/null || true
    if [[ -n $REDIS_PID ]]; then
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
    SAMPLER="" SUB_PID="" REDIS_PID=""
}

# A private redis-server (no persistence) for one run, so INFO commandstats counts this cluster's
# commands only; a pattern subscriber counts every pub/sub message by channel; a sampler writes
# commandstats and the subscriber's line count every second.
start_private_redis() { # dir
    local dir=$1 port="" try
    mkdir -p "$dir/redis"
    # free_port's pick can collide with a client connection's local port: try a few.
    for try in 1 2 3 4 5; do
        port=$(free_port)
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/redis-server.log" 2>&1 &
        REDIS_PID=$!
        for _ in $(seq 1 50); do
            redis-cli -p "$port" ping >/dev/null 2>&1 && break 2
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=""
    done
    [[ -n $REDIS_PID ]] || die "private redis-server did not start ($dir/redis-server.log)"
    REDIS_PORT=$port
    stdbuf -oL redis-cli -p "$port" psubscribe '*' >"$dir/pubsub.txt" 2>&1 &
    SUB_PID=$!
    ( while :; do
        t=$(date +%s%3N)
        {
            echo "pubsub_lines $(wc -l <"$dir/pubsub.txt")"
            redis-cli -p "$port" info commandstats | tr -d '\r'
            # The nodes' own count of commands on their shared connection (scripts count as one).
            for u in $(cat "$dir/bench/nodes.txt" 2>/dev/null); do curl -fsS --max-time 1 "$u/metrics" 2>/dev/null; done |
                awk '$1 == "gateway_redis_commands_total" { s += $2; n++ } END { if (n) print "gw_commands", s, n }'
            for c in $(redis-cli -p "$port" pubsub channels '*'); do echo "numsub $(redis-cli -p "$port" pubsub numsub "$c" | tr '\n' ' ')"; done
        } >"$dir/redis/$t.tmp" &&
            mv "$dir/redis/$t.tmp" "$dir/redis/$t"
        sleep 1
    done ) &
    SAMPLER=$!
}

# Per second over [from, to] ms, from the snapshots bracketing it: commands by type, then pub/sub
# messages by channel (the subscriber's own PSUBSCRIBE and the sampler's INFO and PUBSUB left out).
traffic_window() { # dir from_ms to_ms
    local dir=$1 a b
    a=$(find "$dir/redis" -maxdepth 1 -name '[0-9]*' ! -name '*.tmp' -printf '%f\n' | sort -n | awk -v t="$2" '$1 >= t { print; exit }')
    b=$(find "$dir/redis" -maxdepth 1 -name '[0-9]*' ! -name '*.tmp' -printf '%f\n' | sort -n | awk -v t="$3" '$1 <= t { last = $1 } END { print last }')
    [[ -n $a && -n $b && $a -lt $b ]] || { echo "    (no samples)"; return; }
    awk -v t1="$a" -v t2="$b" '
        FNR == 1 { f++ }
        /^cmdstat_/ { split($0, x, ":"); c = substr(x[1], 9); match($0, /calls=[0-9]+/); v = substr($0, RSTART + 6, RLENGTH - 6)
                      if (f == 1) before[c] = v; else { after[c] = v; seen[c] = 1 } }
        /^pubsub_lines/ { if (f == 1) l1 = $2; else l2 = $2 }
        /^gw_commands/ { if (f == 1) g1 = $2; else { g2 = $2; gn = $3 } }
        /^numsub/ && f == 2 { subs = subs " " $2 "=" $3 }
        END {
            s = (t2 - t1) / 1000; total = 0
            for (c in seen) { d = after[c] - (c in before ? before[c] : 0); if (c == "info" || c == "psubscribe" || c ~ /^pubsub/) continue
                              if (d > 0) { printf "    %-14s %10.2f/s\n", c, d / s; total += d } }
            printf "    %-14s %10.2f/s   (over %.1f s; commands run inside Lua scripts counted by type as well as the EVALSHA; the sampler'"'"'s INFO and PUBSUB and the subscriber'"'"'s PSUBSCRIBE excluded)\n", "all commands", total / s, s
            if (gn) printf "    %-14s %10.2f/s   (gateway_redis_commands_total summed over %d nodes: commands on the shared connections, a script one; heartbeats and PUBLISH not included)\n", "gateway-side", (g2 - g1) / s, gn
            if (subs != "") printf "    subscribers (PUBSUB NUMSUB, the counting subscriber not included as it uses a pattern):%s\n", subs
            print l1, l2 > "/dev/stderr"
        }' "$dir/redis/$a" "$dir/redis/$b" 2>"$dir/lines-$2.txt" | sort -k2 -g -r
    read -r l1 l2 <"$dir/lines-$2.txt"
    # redis-cli prints each message as 4 lines: pmessage, pattern, channel, payload.
    awk -v l1="$l1" -v l2="$l2" -v s="$(awk -v a="$a" -v b="$b" 'BEGIN { print (b - a) / 1000 }')" '
        NR > l1 && NR <= l2 && $0 == "pmessage" { want = NR + 2 }
        NR == want { n[$0]++; total++ }
        END { for (c in n) printf "    pub/sub %-40s %8.2f messages/s\n", c, n[c] / s
              printf "    pub/sub %-40s %8.2f messages/s published (each delivered to every subscribed node)\n", "all channels", total / s }' "$dir/pubsub.txt"
}

run_traffic() {
    local merchants dir rc row
    trap stop_private_redis EXIT
    export STREAM_CONNECTIONS=${STREAM_CONNECTIONS:-6}
    echo "== cluster-bench traffic: $NODES nodes, a websocket app ($STREAM_CONNECTIONS connections) and a callback app," \
        "merchants per app: ${CLUSTER_CHANNEL_MERCHANTS:-5000 50000}; idle ${STREAM_IDLE:-60}s, then ${STREAM_RATE:-1000} events/s" \
        "for ${STREAM_DURATION:-60}s; a private Redis per run; output in $OUT"
    for merchants in ${CLUSTER_CHANNEL_MERCHANTS:-5000 50000}; do
        dir=$OUT/traffic-$merchants
        mkdir -p "$dir"
        start_private_redis "$dir"
        echo "== $((2 * merchants)) channels ($merchants merchants x 2 apps), private Redis on port $REDIS_PORT: $(load_note)"
        rc=0
        STREAM_NODES=$NODES STREAM_CHANNEL_MERCHANTS=$merchants BENCH_OUT=$dir/bench GATEWAY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT \
            perf/stream-bench.sh channels >"$dir/bench.log" 2>&1 || rc=$?
        grep -E '^  (apps|every|load:|total:|phase)|ERROR' "$dir/bench.log" | sed 's/^/  /' || true
        ((rc == 0)) || log "run with $merchants merchants exited $rc (see $dir/bench.log)"
        while IFS= read -r row; do
            echo "  phase $(cut -f3 <<<"$row") ($((2 * merchants)) channels$(awk -F'\t' '$6 > 0 { printf ", ingested %s/s, delivered %s/s websocket and %s/s callback", $6, $7, $8 }' <<<"$row")):"
            traffic_window "$dir" "$(cut -f4 <<<"$row")" "$(cut -f5 <<<"$row")"
        done < <(grep -P '^ROW\tphase\t' "$dir/bench/channels.log" || true)
        echo "  Redis at the end: $(redis-cli -p "$REDIS_PORT" dbsize) keys, $(redis-cli -p "$REDIS_PORT" info memory | tr -d '\r' | awk -F: '$1 == "used_memory_human" { print $2 }') used"
        stop_private_redis
    done
}

# ------------------------------------------------------------------ takeover after SIGKILL

# One drill's takeover, from its files: the kill's time (the mtime of killed-node, written when the
# drill tool sends SIGKILL) and the live nodes' log lines "took over ... from drill-<k>/..." (one per
# channel claimed from the dead incarnation, millisecond timestamps, UTC like the logs).
takeover_of() { # drill-dir -> "first median last channels" in seconds after the kill, or nothing
    local d=$1 k killed
    [[ -f $d/killed-node ]] || return 0
    killed=$(head -n1 "$d/killed-node")
    k=$(stat -c %.9Y "$d/killed-node")
    cat "$d"/gateway-*.log | grep -h "took over .* from drill-$killed/" |
        awk -v k="$k" '{ split($1, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3] - (k % 86400) }' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.2f %.2f %.2f %d\n", v[1], v[int((NR + 1) / 2)], v[NR], NR }'
}

run_takeover() {
    local kills=${CLUSTER_KILLS:-5} i d rc t verdict lost
    export DRILL_NODES=3 DRILL_SCALE=${DRILL_SCALE:-small} DRILL_KILL_NODE_AT=${DRILL_KILL_NODE_AT:-45}
    export DRILL_DB=${DRILL_DB:-gateway_cluster_drill}
    echo "== cluster-bench takeover: $kills drills, DRILL_NODES=3 DRILL_SCALE=$DRILL_SCALE DRILL_KILL_NODE_AT=$DRILL_KILL_NODE_AT" \
        "(lease ${GATEWAY_NODE_LEASE_MS:-10000} ms); output in $OUT"
    printf 'run\tfirst_s\tmedian_s\tlast_s\tchannels\tverdict\tlive_node_lost_lease\tload_before\n' >"$OUT/takeover.tsv"
    for i in $(seq 1 "$kills"); do
        d=$OUT/drill-$i
        echo "== drill $i: $(load_note)"
        local load
        load=$(cut -d' ' -f1 /proc/loadavg)
        rc=0
        DRILL_OUT=$d scripts/drill.sh >"$d.log" 2>&1 || rc=$?
        verdict=$(head -n1 "$d/report.md" 2>/dev/null | sed 's/.*: //')
        [[ -n $verdict ]] || verdict="no report (exit $rc)"
        lost=$(cat "$d"/gateway-*.log 2>/dev/null | grep -c "lost this node's lease" || true)
        t=$(takeover_of "$d")
        printf '%s\t%s\t%s\t%s\n' "$i" "$(tr ' ' '\t' <<<"${t:-- - - 0}")" "$verdict" "$lost	$load" >>"$OUT/takeover.tsv"
        echo "  kill -> claims of the dead node's channels: ${t:-none} (first median last s, channels); drill $verdict; live nodes' lease losses: $lost"
    done
    echo "== takeover (table: $OUT/takeover.tsv)"
    column -t -s $'\t' "$OUT/takeover.tsv" | sed 's/^/  /'
    local c
    for c in 2:first 3:median 4:last; do
        echo "  ${c#*:} claim after the kill: median $(awk -F'\t' -v c="${c%%:*}" 'NR > 1 && $c != "-" { print $c }' "$OUT/takeover.tsv" | median) s," \
            "range $(awk -F'\t' -v c="${c%%:*}" 'NR > 1 && $c != "-" { print $c }' "$OUT/takeover.tsv" | range) s"
    done
}

case $MODE in
    sustained) run_sustained ;;
    traffic) run_traffic ;;
    takeover) run_takeover ;;
esac
exit 0
}
