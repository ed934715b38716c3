#!/usr/bin/env bash
# Durable ingest throughput benchmark: see perf/README.md.
#
#   perf/ingest-bench.sh            from the repository root (or anywhere)
#
# Starts a private gateway (generated tokens, free port) against the PostgreSQL and
# Redis of scripts/services.sh, runs perf's IngestBench BENCH_RUNS times per batch
# size, prints per-run figures, the CPU split per process and the medians, and stops
# the gateway with SIGTERM on exit (also on failure or Ctrl-C).
#
# Overridable by environment:
#   BENCH_BATCHES="100 1000"   batch sizes (events per request)
#   BENCH_RUNS=3               runs per batch size (median reported)
#   BENCH_DURATION=30          measured seconds per run
#   BENCH_WARMUP=10            unmeasured seconds before each run
#   BENCH_MERCHANTS=1000       distinct merchant ids
#   BENCH_GATEWAY_WARMUP=20    seconds of unmeasured load on a fresh gateway (JIT) before run 1
#   BENCH_QUIET_WAIT=180       before each run, wait up to this long for other work on the
#                              machine to stop (0: don't wait); runs shared with other work
#                              are flagged either way
#   BENCH_REDO_DISTURBED=3     run a run again, up to this many times, when other work took
#                              more than 20% of a core during it (the last try counts, flagged)
#   BENCH_CONCURRENCY_<batch>  requests in flight for that batch size
#                              (defaults: 16 for batch 100, 4 for batch 1000,
#                              BENCH_CONCURRENCY otherwise, itself default 8)
#   BENCH_DB=gateway_ingest_bench  database the benchmark creates and uses, next to the one
#                              of GATEWAY_PG_URL (empty: use GATEWAY_PG_URL's database as is)
#   BENCH_FRESH_DB=1           drop and recreate BENCH_DB first (0: keep its data)
#   BENCH_DB_LOCALE            locale of a newly created BENCH_DB (e.g. C; default: the server's)
#   BENCH_RAW=1                also measure the raw multi-row INSERT ceiling with pgbench after
#                              each gateway run (perf/raw-insert.sh: the same ~600-byte rows,
#                              BENCH_RAW_CLIENTS clients, batch-size rows per transaction plus the
#                              heads upsert, same server and settings) and print the ratio (0: skip)
#   BENCH_RAW_CLIENTS=8        pgbench clients for the ceiling
#   BENCH_RAW_DB=<BENCH_DB>_raw  the ceiling's database (dropped and created on every invocation)
#   PGBENCH=/usr/bin/pgbench   the pgbench binary (PostgreSQL's, same major version as the server)
#   BENCH_KEY_HISTORY_DAYS=0   store idempotency keys for this many past days before the runs, as a
#                              gateway that has run for a while holds them (ingest looks new keys
#                              up among them): BENCH_KEY_HISTORY_KEYS a day over the benchmark's
#                              merchants, in event_keys partitions laid out as the gateway under test
#                              lays them out (by week if it made this week's by week, else by day)
#   BENCH_KEY_HISTORY_KEYS=1000000  keys per past day
#   BENCH_SETUP_SQL            SQL run in the benchmark's database once the gateway has started
#                              (and made its partitions), before the runs: for experiments with
#                              storage settings, e.g. "ALTER TABLE event_chunks_20261201 SET (...)"
#   BENCH_GATEWAY_JAVA_OPTS    JVM options for the gateway   (default none)
#   BENCH_JAVA_OPTS            JVM options for the generator (default -Xmx1g -XX:+UseSerialGC)
#   BENCH_OUT                  directory for logs and results (default: a new temp dir)
#   BENCH_REBUILD=1            rebuild the jars even if present
#   BENCH_GATEWAY_JAR          run this gateway jar instead of the build's (e.g. a baseline's copy)
#   GATEWAY_PG_URL, GATEWAY_REDIS_URL as for the gateway; other GATEWAY_* pass through.
set -euo pipefail

# Everything below is one brace block, read whole before it runs: editing this file while a
# benchmark is running cannot derail it.
{
cd "$(dirname "$0")/.."
ROOT=$PWD

BATCHES=${BENCH_BATCHES:-"100 1000"}
RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION:-30}
WARMUP=${BENCH_WARMUP:-10}
MERCHANTS=${BENCH_MERCHANTS:-1000}
GW_WARMUP=${BENCH_GATEWAY_WARMUP:-20}
QUIET_WAIT=${BENCH_QUIET_WAIT:-180}
REDO=${BENCH_REDO_DISTURBED:-3}
BENCH_DB=${BENCH_DB-gateway_ingest_bench}
FRESH_DB=${BENCH_FRESH_DB:-1}
BENCH_JAVA_OPTS=${BENCH_JAVA_OPTS:--Xmx1g -XX:+UseSerialGC}
RAW=${BENCH_RAW:-1}
RAW_CLIENTS=${BENCH_RAW_CLIENTS:-8}
RAW_DB=${BENCH_RAW_DB:-${BENCH_DB:-gateway_ingest_bench}_raw}
HISTORY_DAYS=${BENCH_KEY_HISTORY_DAYS:-0}
HISTORY_KEYS=${BENCH_KEY_HISTORY_KEYS:-1000000}
PGBENCH=${PGBENCH:-/usr/bin/pgbench}
export GATEWAY_PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
export GATEWAY_REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/ingest-bench.XXXXXX)}
mkdir -p "$OUT"
GATEWAY_JAR=${BENCH_GATEWAY_JAR:-$ROOT/gateway/target/gateway-0.1.0-SNAPSHOT.jar}
BENCH_JAR=$ROOT/perf/target/ingest-bench.jar
HZ=$(getconf CLK_TCK)

log() { echo "ingest-bench: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=scripts/lib/gateway.sh
. "$ROOT/scripts/lib/gateway.sh"
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"

concurrency_for() {
    local var=BENCH_CONCURRENCY_$1
    if [[ -n ${!var:-} ]]; then echo "${!var}"
    elif [[ $1 == 100 ]]; then echo 16
    elif [[ $1 == 1000 ]]; then echo 4
    else echo "${BENCH_CONCURRENCY:-8}"; fi
}

# ------------------------------------------------------------------ services, build

if [[ -x scripts/services.sh ]]; then
    scripts/services.sh >&2 || die "scripts/services.sh failed"
else
    log "scripts/services.sh not found; assuming PostgreSQL and Redis are running"
fi
psql -X -w -q "$GATEWAY_PG_URL" -c 'select 1' >/dev/null || die "cannot log in to PostgreSQL (GATEWAY_PG_URL)"

# The benchmark gets a database of its own: a shared one may hold apps sealed with another
# secret key (the gateway then refuses to start) and data of other runs and tests.
if [[ -n $BENCH_DB ]]; then
    [[ $BENCH_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain lower-case identifier"
    [[ $GATEWAY_PG_URL != *\?* ]] || die "GATEWAY_PG_URL with ?parameters is not supported here; set BENCH_DB="
    if ((FRESH_DB)); then
        drop_database "$GATEWAY_PG_URL" "$BENCH_DB" || die "cannot drop database $BENCH_DB"
    fi
    if [[ $(psql -X -w -Atq "$GATEWAY_PG_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'") != 1 ]]; then
        create="CREATE DATABASE $BENCH_DB"
        if [[ -n ${BENCH_DB_LOCALE:-} ]]; then
            [[ $BENCH_DB_LOCALE =~ ^[A-Za-z0-9_.@-]+$ ]] || die "bad BENCH_DB_LOCALE"
            create+=" TEMPLATE template0 LOCALE '$BENCH_DB_LOCALE'"
        fi
        psql -X -w -q "$GATEWAY_PG_URL" -c "$create" >/dev/null ||
            die "cannot create database $BENCH_DB (the role needs CREATEDB); set BENCH_DB= to use GATEWAY_PG_URL's database"
    fi
    export GATEWAY_PG_URL=${GATEWAY_PG_URL%/*}/$BENCH_DB
fi

# The raw ceiling's database: the same server, so the same settings; created like BENCH_DB.
if ((RAW)); then
    [[ $RAW_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_RAW_DB must be a plain lower-case identifier"
    [[ -x $PGBENCH ]] || die "$PGBENCH not found (set PGBENCH, or BENCH_RAW=0 to skip the ceiling)"
    SERVER_URL=${GATEWAY_PG_URL%/*}/postgres
    RAW_URL=${GATEWAY_PG_URL%/*}/$RAW_DB
    drop_database "$SERVER_URL" "$RAW_DB" || die "cannot drop database $RAW_DB"
    create="CREATE DATABASE $RAW_DB"
    [[ -z ${BENCH_DB_LOCALE:-} ]] || create+=" TEMPLATE template0 LOCALE '$BENCH_DB_LOCALE'"
    psql -X -w -q "$SERVER_URL" -c "$create" >/dev/null || die "cannot create database $RAW_DB"
    "$ROOT/perf/raw-insert.sh" schema "$RAW_URL" || die "cannot create the ceiling's tables"
fi

if [[ ! -f $GATEWAY_JAR || ${BENCH_REBUILD:-0} == 1 ]]; then
    log "building the gateway (mvn -q -DskipTests package)..."
    mvn -q -DskipTests package >&2
elif [[ ! -f $BENCH_JAR ]]; then
    log "building the load generator (mvn -q -pl perf -DskipTests package)..."
    mvn -q -pl perf -DskipTests package >&2
fi
[[ -f $GATEWAY_JAR && -f $BENCH_JAR ]] || die "jars missing after build"
# Run a private copy, so a concurrent rebuild cannot swap the jar under the running JVM. A
# rebuild in progress briefly leaves the unshaded jar in place: wait for a runnable one.
for i in $(seq 1 20); do
    cp "$GATEWAY_JAR" "$OUT/gateway.jar" 2>/dev/null &&
        unzip -p "$OUT/gateway.jar" META-INF/MANIFEST.MF 2>/dev/null | grep -q '^Main-Class:' && break
    ((i < 20)) || die "$GATEWAY_JAR is not a runnable jar (no Main-Class); rebuild with mvn -q -DskipTests package"
    log "gateway jar not runnable yet (rebuild in progress?), retrying..."
    sleep 3
done

# ------------------------------------------------------------------ gateway

new_gateway_credentials

trap stop_gateway EXIT
trap 'exit 130' INT TERM

GATEWAY_JAVA_OPTS=${BENCH_GATEWAY_JAVA_OPTS:-} start_gateway_process "$OUT/gateway.jar" "$OUT/gateway.log"

# Past days' keys, as a gateway that has run for a while holds them.
if ((HISTORY_DAYS > 0)); then
    [[ $HISTORY_DAYS =~ ^[0-9]+$ && $HISTORY_DAYS -le 60 && $HISTORY_KEYS =~ ^[0-9]+$ ]] ||
        die "BENCH_KEY_HISTORY_DAYS must be 0-60 and BENCH_KEY_HISTORY_KEYS a number"
    log "storing keys for $HISTORY_DAYS past days, $HISTORY_KEYS a day..."
    history_start=$(date +%s)
    PGOPTIONS="-c client_min_messages=warning" psql -X -w -q -v ON_ERROR_STOP=1 "$GATEWAY_PG_URL" <<SQL || die "could not store the key history"
SET timezone = 'UTC';
DO \$\$
DECLARE
    weekly boolean := to_regclass('event_keys_w' || to_char(date_trunc('week', current_date), 'YYYYMMDD')) IS NOT NULL;
    day date;
    first date;
    span int;
    name text;
BEGIN
    FOR d IN 1..$HISTORY_DAYS LOOP
        day := current_date - d;
        first := CASE WHEN weekly THEN date_trunc('week', day)::date ELSE day END;
        span := CASE WHEN weekly THEN 7 ELSE 1 END;
        name := 'event_keys_' || CASE WHEN weekly THEN 'w' ELSE '' END || to_char(first, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF event_keys FOR VALUES FROM (%L) TO (%L)',
                               name, first || ' 00:00:00+00', (first + span) || ' 00:00:00+00');
            EXCEPTION WHEN invalid_object_definition THEN
                -- a week that already has day partitions (a database kept from before): its day
                name := 'event_keys_' || to_char(day, 'YYYYMMDD');
                EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF event_keys FOR VALUES FROM (%L) TO (%L)',
                               name, day || ' 00:00:00+00', (day + 1) || ' 00:00:00+00');
            END;
            EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (merchant_id, event_id)', name || '_key', name);
        END IF;
    END LOOP;
END
\$\$;
SET synchronous_commit = off;
INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)
SELECT 'bench-m-' || lpad((i % $MERCHANTS)::text, 4, '0'), 'evt-history-' || d || '-' || i, i + 1,
       (current_date - d) + (i::float8 / $HISTORY_KEYS) * interval '1 day'
FROM generate_series(1, $HISTORY_DAYS) AS d, generate_series(0, $HISTORY_KEYS - 1) AS i;
VACUUM ANALYZE event_keys;
SQL
    log "stored in $(($(date +%s) - history_start)) s: $(psql -X -w -Atq "$GATEWAY_PG_URL" -c "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'event_keys'::regclass")"
fi

if [[ -n ${BENCH_SETUP_SQL:-} ]]; then
    log "running BENCH_SETUP_SQL"
    psql -X -w -q -v ON_ERROR_STOP=1 "$GATEWAY_PG_URL" -c "$BENCH_SETUP_SQL" || die "BENCH_SETUP_SQL failed"
fi

SYNC_COMMIT=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW synchronous_commit')
COLLATE=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SELECT datcollate FROM pg_database WHERE datname = current_database()')
FSYNC=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW fsync')
PGVER=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c 'SHOW server_version')
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain -- persistence gateway delivery 2>/dev/null) ]] || GIT_REV="$GIT_REV+uncommitted"
[[ -z ${BENCH_GATEWAY_JAR:-} ]] || GIT_REV="$BENCH_GATEWAY_JAR"

# ------------------------------------------------------------------ measuring helpers

# CPU accounting from /proc. A snapshot file holds the time, the machine-wide ticks, and
# utime+stime ticks per pid of each group; split_cpu turns two snapshots into % of one core per
# group. A pid new in the second snapshot counts in full; one gone by then is lost (short-lived
# postgres backends: the gateway's pools keep theirs open, so this loses little).
snapshot() { # file bench_pid
    # Backends serving other databases (other people's tests on a shared server) are not ours
    # (the raw ceiling's, RAW_DB, are):
    # leaving them out of "postgres" puts their CPU under "anything else".
    local foreign
    foreign=" $(psql -X -w -Atq "$GATEWAY_PG_URL" -c "SELECT pid FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND datname IS DISTINCT FROM current_database()
          AND datname IS DISTINCT FROM '${RAW_DB:-}'" | tr '\n' ' ') "
    {
        echo "T $(date +%s.%N)"
        awk '/^cpu / { print "M", $2+$3+$4+$7+$8+$9, $6, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat
        local group pid
        for group in gateway:$GW_PID bench:$2 postgres:"$(pgrep -d: -x postgres || true)" redis:"$(pgrep -d: -x redis-server || true)"; do
            for pid in $(tr : ' ' <<<"${group#*:}"); do
                [[ $foreign != *" $pid "* ]] || continue
                awk -v g="${group%%:*}" -v p="$pid" '{ sub(/.*\) /, ""); print "P", g, p, $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true
            done
        done
    } >"$1"
}
split_cpu() { # before after -> "gateway bench postgres redis machine iowait" in % of one core
    awk -v hz="$HZ" -v n="$(nproc)" '
        FNR == 1 { f++ }
        $1 == "T" { t[f] = $2 }
        $1 == "M" { busy[f] = $2; iow[f] = $3; tot[f] = $4 }
        $1 == "P" && f == 1 { before[$3] = $4 }
        $1 == "P" && f == 2 { used[$2] += $4 - ($3 in before ? before[$3] : 0) }
        END {
            c = hz * (t[2] - t[1]) / 100; m = (tot[2] - tot[1]) / 100 / n
            printf "%.0f %.0f %.0f %.0f %.0f %.1f\n", used["gateway"] / c, used["bench"] / c, used["postgres"] / c,
                used["redis"] / c, (busy[2] - busy[1]) / m, (iow[2] - iow[1]) / m
        }' "$1" "$2"
}

# count and sum of a Prometheus summary/histogram, e.g. gateway_ingest_commit_seconds
scrape() { curl -fsS "$BASE/metrics" >"$1" || echo >"$1"; }
metric() { # file name [label-substring] -> value of the first matching sample (0 if none)
    awk -v n="$2" -v l="${3:-}" '{ split($1, a, "{") } a[1] == n && (l == "" || index($1, l)) { print $2; found = 1; exit }
        END { if (!found) print 0 }' "$1"
}
json_num() { grep -o "\"$2\":[-0-9.eE]*" "$1" | head -n1 | cut -d: -f2; }
# the server's WAL written so far: "records bytes" (server-wide: other databases' writes count too)
wal_now() { psql -X -w -Atq -F' ' "$GATEWAY_PG_URL" -c 'SELECT wal_records, wal_bytes FROM pg_stat_wal'; }
# WAL per event of a run: wal_per BEFORE AFTER EVENTS -> "records bytes" per event
wal_per() { awk -v n="$3" -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); if (n < 1) n = 1
    printf "%.2f %.0f\n", (y[1] - x[1]) / n, (y[2] - x[2]) / n }'; }

# ------------------------------------------------------------------ the raw INSERT ceiling

RAW_RESULTS=$OUT/raw.tsv
printf 'batch\trun\trows_per_s\ttps\tgateway_events_per_s\tratio\tcpu_gateway\tcpu_pgbench\tcpu_postgres\tcpu_redis\tcpu_other\tcpu_machine\tiowait\n' >"$RAW_RESULTS"

# raw_run BATCH RUN GATEWAY_RATE: one pgbench run as long as a gateway run, right after it, with
# the same CPU accounting (pgbench in the "load generator" column).
raw_run() {
    local batch=$1 run=$2 gw=$3 tag=raw-b$1-r$2 script=$OUT/raw-$1.sql
    [[ -f $script ]] || "$ROOT/perf/raw-insert.sh" script "$batch" "$script"
    wait_quiet; note_writeback
    "$PGBENCH" -n -M simple -c "$RAW_CLIENTS" -j "$(nproc)" -T "$DURATION" -f "$script" "$RAW_URL" \
        >"$OUT/$tag.log" 2>&1 &
    local bp=$! rc=0 wal0 wal1
    wal0=$(wal_now)
    sleep 1; snapshot "$OUT/cpu-$tag-0.txt" "$bp"
    sleep $((DURATION - 3)); snapshot "$OUT/cpu-$tag-1.txt" "$bp"
    wait "$bp" || rc=$?
    wal1=$(wal_now)
    ((rc == 0)) || { cat "$OUT/$tag.log" >&2; die "pgbench failed (exit $rc), see $OUT/$tag.log"; }
    local tps rows ratio cgw cbench cpg credis cmach ciow
    tps=$(awk '/^tps = / { print $3; exit }' "$OUT/$tag.log")
    rows=$(awk -v t="$tps" -v b="$batch" 'BEGIN { printf "%.0f", t * b }')
    ratio=$(awk -v g="$gw" -v r="$rows" 'BEGIN { printf "%.2f", (r > 0 ? g / r : 0) }')
    read -r cgw cbench cpg credis cmach ciow < <(split_cpu "$OUT/cpu-$tag-0.txt" "$OUT/cpu-$tag-1.txt")
    local walrec walbytes
    read -r walrec walbytes < <(wal_per "$wal0" "$wal1" "$(awk '/^number of transactions actually processed/ { print $NF * '"$batch"' }' "$OUT/$tag.log")")
    echo "  run $run: raw ceiling: WAL per row (server-wide): $walrec records, $walbytes bytes"
    echo "  run $run: raw INSERT ceiling (pgbench, $RAW_CLIENTS clients, $batch rows/tx + heads upsert): $rows rows/s;" \
         "gateway/raw $ratio; CPU % of one core: gateway $cgw, pgbench $cbench, postgres $cpg, redis $credis," \
         "anything else $((cmach - cgw - cbench - cpg - credis)); machine busy $cmach of $(( $(nproc) * 100 )), iowait $ciow"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$batch" "$run" "$rows" "$tps" "$gw" "$ratio" \
        "$cgw" "$cbench" "$cpg" "$credis" "$((cmach - cgw - cbench - cpg - credis))" "$cmach" "$ciow" >>"$RAW_RESULTS"
}

# ------------------------------------------------------------------ runs

RESULTS=$OUT/results.tsv
printf 'batch\trun\tevents_per_s\trequests_per_s\tp50_ms\tp99_ms\tmax_ms\terrors\tretries503\tcommit_mean_ms\tcommit_p99_ms\tgroup_events_mean\tgroup_requests_mean\tcpu_gateway\tcpu_bench\tcpu_postgres\tcpu_redis\tcpu_other\tcpu_machine\tiowait\n' >"$RESULTS"

echo "== ingest benchmark: $(nproc) cores, PostgreSQL $PGVER, synchronous_commit=$SYNC_COMMIT, fsync=$FSYNC, gateway $GIT_REV"
echo "== $RUNS runs per batch size, ${WARMUP}s warm-up + ${DURATION}s measured, $MERCHANTS merchants, database ${GATEWAY_PG_URL##*/} (collation $COLLATE), output in $OUT"
((HISTORY_DAYS == 0)) || echo "== keys of $HISTORY_DAYS past days stored first, $HISTORY_KEYS a day (BENCH_KEY_HISTORY_DAYS)"
[[ -z ${BENCH_SETUP_SQL:-} ]] || echo "== BENCH_SETUP_SQL: $BENCH_SETUP_SQL"
# One unmeasured run first, so the gateway's JIT compilation (which takes a good share of
# two cores for a while) does not land in the first measured run.
if ((GW_WARMUP > 0)); then
    first=${BATCHES%% *}
    log "warming up the gateway: ${GW_WARMUP}s at batch $first (not measured)"
    # shellcheck disable=SC2086
    java $BENCH_JAVA_OPTS -jar "$BENCH_JAR" --url="$BASE/v1/events" --batch="$first" --merchants="$MERCHANTS" \
        --concurrency="$(concurrency_for "$first")" --duration="$GW_WARMUP" --warmup=0 --seed=7 \
        >"$OUT/bench-gateway-warmup.log" 2>&1 || { cat "$OUT/bench-gateway-warmup.log" >&2; die "warm-up run failed"; }
fi

failed=0
for batch in $BATCHES; do
    conc=$(concurrency_for "$batch")
    for run in $(seq 1 "$RUNS"); do
      for attempt in $(seq 0 "$REDO"); do
        tag=b$batch-r$run
        ((attempt == 0)) || tag=$tag-redo$attempt
        wait_quiet; note_writeback
        scrape "$OUT/metrics-$tag-before.txt"
        wal0=$(wal_now)
        # shellcheck disable=SC2086
        java $BENCH_JAVA_OPTS -jar "$BENCH_JAR" --url="$BASE/v1/events" --batch="$batch" \
            --merchants="$MERCHANTS" --concurrency="$conc" --duration="$DURATION" --warmup="$WARMUP" \
            --seed="$run$batch" >"$OUT/bench-$tag.log" 2>&1 &
        bp=$!
        # CPU window: from 1 s into the measured period to 2 s before its end (the generator's
        # JVM needs ~0.5 s to start; the window must close while it still runs).
        sleep $((WARMUP + 1)); snapshot "$OUT/cpu-$tag-0.txt" "$bp"
        sleep $((DURATION - 3)); snapshot "$OUT/cpu-$tag-1.txt" "$bp"
        rc=0; wait "$bp" || rc=$?
        wal1=$(wal_now)
        scrape "$OUT/metrics-$tag-after.txt"
        if ! grep -q '^RESULT_JSON ' "$OUT/bench-$tag.log"; then
            cat "$OUT/bench-$tag.log" >&2; die "run $tag produced no result"
        fi
        ((rc == 0)) || { failed=1; log "run $tag reported errors (exit $rc), see $OUT/bench-$tag.log"; }
        grep '^RESULT_JSON ' "$OUT/bench-$tag.log" | cut -d' ' -f2- >"$OUT/result-$tag.json"
        grep -v '^RESULT_JSON ' "$OUT/bench-$tag.log" | sed "s/^/  run $run: /"
        r=$OUT/result-$tag.json; b=$OUT/metrics-$tag-before.txt; a=$OUT/metrics-$tag-after.txt
        # Per-run means from the deltas of the cumulative count/sum; p99 is Micrometer's decaying window.
        read -r cmean cp99 gmean rmean < <(awk -v c0="$(metric "$b" gateway_ingest_commit_seconds_count)" \
            -v c1="$(metric "$a" gateway_ingest_commit_seconds_count)" \
            -v s0="$(metric "$b" gateway_ingest_commit_seconds_sum)" -v s1="$(metric "$a" gateway_ingest_commit_seconds_sum)" \
            -v p99="$(metric "$a" gateway_ingest_commit_seconds 'quantile="0.99"')" \
            -v g0="$(metric "$b" gateway_ingest_group_events_sum)" -v g1="$(metric "$a" gateway_ingest_group_events_sum)" \
            -v q0="$(metric "$b" gateway_ingest_group_requests_sum)" -v q1="$(metric "$a" gateway_ingest_group_requests_sum)" \
            'BEGIN { n = c1 - c0; if (n < 1) n = 1
                     printf "%.1f %.1f %.0f %.1f\n", (s1 - s0) / n * 1000, p99 * 1000, (g1 - g0) / n, (q1 - q0) / n }')
        read -r cgw cbench cpg credis cmach ciow < <(split_cpu "$OUT/cpu-$tag-0.txt" "$OUT/cpu-$tag-1.txt")
        stored=$(awk -v a="$(metric "$b" gateway_ingest_events_total 'result="stored"')" \
            -v b="$(metric "$a" gateway_ingest_events_total 'result="stored"')" 'BEGIN { printf "%.0f", b - a }')
        read -r walrec walbytes < <(wal_per "$wal0" "$wal1" "$stored")
        echo "  run $run: WAL per stored event (warm-up and drain included, server-wide): $walrec records, $walbytes bytes"
        echo "  run $run: group commit: mean $cmean ms per transaction (p99 $cp99 ms), $gmean events / $rmean requests per transaction;" \
             "CPU % of one core: gateway $cgw, load generator $cbench, postgres $cpg, redis $credis," \
             "anything else $((cmach - cgw - cbench - cpg - credis)); machine busy $cmach of $(( $(nproc) * 100 )), iowait $ciow"
        other=$((cmach - cgw - cbench - cpg - credis))
        if ((other > 20)); then
            if ((attempt < REDO)); then
                log "run $tag shared the machine with other work (${other}% of a core): discarded, running it again"
                continue
            fi
            log "WARNING: run $tag shared the machine with other work (${other}% of a core): figures are disturbed"
        fi
        gw_rate=$(json_num "$r" eventsPerS)
        if ((RAW)); then
            raw_run "$batch" "$run" "$gw_rate"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$batch" "$run" \
            "$(json_num "$r" eventsPerS)" "$(json_num "$r" requestsPerS)" "$(json_num "$r" p50Ms)" "$(json_num "$r" p99Ms)" \
            "$(json_num "$r" maxMs)" "$(json_num "$r" errors)" "$(json_num "$r" retries503)" \
            "$cmean" "$cp99" "$gmean" "$rmean" "$cgw" "$cbench" "$cpg" "$credis" "$other" \
            "$cmach" "$ciow" >>"$RESULTS"
        break
      done
    done
done

# ------------------------------------------------------------------ summary

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v b="$1" -v c="$2" 'NR > 1 && $1 == b { print $c }' "$RESULTS"; }
echo
echo "== medians of $RUNS runs (synchronous_commit=$SYNC_COMMIT, $(nproc) cores, $MERCHANTS merchants, ${DURATION}s each)"
printf '%-6s %-5s %12s %10s %9s %9s %13s %12s %s\n' batch conc events/s req/s p50_ms p99_ms commit_ms events/tx "cpu% gw/gen/pg/redis/other"
for batch in $BATCHES; do
    printf '%-6s %-5s %12s %10s %9s %9s %13s %12s %s\n' "$batch" "$(concurrency_for "$batch")" \
        "$(col "$batch" 3 | median)" "$(col "$batch" 4 | median)" "$(col "$batch" 5 | median)" "$(col "$batch" 6 | median)" \
        "$(col "$batch" 10 | median)" "$(col "$batch" 12 | median)" \
        "$(col "$batch" 14 | median)/$(col "$batch" 15 | median)/$(col "$batch" 16 | median)/$(col "$batch" 17 | median)/$(col "$batch" 18 | median)"
done
if ((RAW)); then
    rcol() { awk -F'\t' -v b="$1" -v c="$2" 'NR > 1 && $1 == b { print $c }' "$RAW_RESULTS"; }
    echo
    echo "== raw multi-row INSERT ceiling, same server and settings (pgbench -M simple, $RAW_CLIENTS clients, rows ~600 bytes + heads upsert; perf/raw-insert.sh)"
    printf '%-6s %12s %14s %12s %s\n' batch rows/s "gateway ev/s" "ratio" "cpu% gw/pgbench/pg/redis/other (raw runs)"
    for batch in $BATCHES; do
        printf '%-6s %12s %14s %12s %s\n' "$batch" "$(rcol "$batch" 3 | median)" "$(rcol "$batch" 5 | median)" \
            "$(rcol "$batch" 6 | median)" \
            "$(rcol "$batch" 7 | median)/$(rcol "$batch" 8 | median)/$(rcol "$batch" 9 | median)/$(rcol "$batch" 10 | median)/$(rcol "$batch" 11 | median)"
        echo "       ratio per run (gateway run / the pgbench run right after it): $(rcol "$batch" 6 | tr '\n' ' ')"
    done
    echo "(ratio: the median of the per-run ratios; per-run table: $RAW_RESULTS)"
fi
disturbed=$(awk -F'\t' 'NR > 1 && $18 > 20' "$RESULTS" | wc -l)
((disturbed == 0)) || echo "WARNING: $disturbed run(s) shared the machine with other work (cpu_other > 20): treat these figures as low"
echo "(per-run table: $RESULTS)"
((failed == 0)) || { log "some runs reported errors"; exit 1; }
exit 0
}
