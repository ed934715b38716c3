#!/usr/bin/env bash
# What looking up new event ids costs PostgreSQL when keys of past days are stored, with the keys
# partitioned by day (before) and by week (now), in the same invocation: see perf/README.md,
# "Idempotency keys partitioned by week".
#
#   perf/key-probe.sh                 from the repository root (or anywhere)
#
# Builds two scratch databases beside GATEWAY_PG_URL's, each with the gateway's event_keys table
# (columns in collation C, a unique index on (merchant_id, event_id) in every partition): one
# partitioned by UTC day, one by UTC week (Monday to Monday), and stores the same keys in both:
# PROBE_KEYS_PER_DAY keys for each of the PROBE_DAYS days before today, over 1,000 merchants. Then,
# PROBE_RUNS times alternating, pgbench (one client, prepared statements, PROBE_SECONDS each) runs
# the lookup of the one-round-trip commit's statement (EventLog.WRITE_EXPECTING: 100 new keys,
# none stored) with the window each variant's gateway uses: "day" from the first retained day,
# outside today; "week" from the Monday of its week, outside today (a week not known to be whole);
# "wholeweek" the same outside this week (EventLog.keyWeeks). Prints the mean latency per lookup
# of each run, the medians, and the partitions each variant probes (EXPLAIN ANALYZE). Drops both databases at the
# end (PROBE_KEEP=1 keeps them).
#
#   PROBE_DAYS=7                 past days with keys (the default retention.days)
#   PROBE_KEYS_PER_DAY=1000000   keys stored per past day
#   PROBE_RUNS=3                 runs per variant
#   PROBE_SECONDS=15             seconds per run
#   PROBE_KEEP=0                 1: keep the databases (gateway_probe_day, gateway_probe_week)
#   GATEWAY_PG_URL               as for the gateway
set -euo pipefail
{
cd "$(dirname "$0")/.."
DAYS=${PROBE_DAYS:-7}
KEYS=${PROBE_KEYS_PER_DAY:-1000000}
RUNS=${PROBE_RUNS:-3}
SECONDS_EACH=${PROBE_SECONDS:-15}
KEEP=${PROBE_KEEP:-0}
PGBENCH=${PGBENCH:-/usr/bin/pgbench}
URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
[[ $URL != *\?* ]] || { echo "key-probe: GATEWAY_PG_URL with ?parameters is not supported" >&2; exit 2; }
[[ $DAYS =~ ^[0-9]+$ && $DAYS -ge 1 && $DAYS -le 60 ]] || { echo "key-probe: PROBE_DAYS must be 1-60" >&2; exit 2; }
[[ $KEYS =~ ^[0-9]+$ && $KEYS -ge 1000 ]] || { echo "key-probe: PROBE_KEYS_PER_DAY must be at least 1000" >&2; exit 2; }
SERVER=${URL%/*}/postgres
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
log() { echo "key-probe: $*" >&2; }
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh

today=$(date -u +%F)
# The Monday of the week holding a date (UTC).
monday() { date -u -d "$1 -$(( $(date -u -d "$1" +%u) - 1 )) days" +%F; }
from_day=$(date -u -d "$today -$DAYS days" +%F)
from_week=$(monday "$from_day")
tomorrow=$(date -u -d "$today +1 day" +%F)
to=$(date -u -d "+1 hour" '+%F %T+00')

cleanup() {
    ((KEEP)) && return
    for layout in day week; do
        drop_database "$SERVER" "gateway_probe_$layout" || true
    done
}
trap cleanup EXIT

for layout in day week; do
    db=gateway_probe_$layout
    drop_database "$SERVER" "$db"
    psql -X -w -q "$SERVER" -c "CREATE DATABASE $db" >/dev/null
    log "$layout: storing $DAYS days of $KEYS keys..."
    start=$(date +%s)
    psql -X -w -q -v ON_ERROR_STOP=1 "${URL%/*}/$db" <<SQL
SET timezone = 'UTC';
CREATE TABLE event_keys (
    merchant_id text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    seq         bigint      NOT NULL,
    ingested_at timestamptz NOT NULL
) PARTITION BY RANGE (ingested_at);
DO \$\$
DECLARE
    first date;
    span int;
    name text;
BEGIN
    -- partitions from the first day with keys (its week's Monday for weeks) to tomorrow
    first := CASE WHEN '$layout' = 'week' THEN date '$from_week' ELSE date '$from_day' END;
    span := CASE WHEN '$layout' = 'week' THEN 7 ELSE 1 END;
    WHILE first <= date '$tomorrow' LOOP
        name := 'event_keys_' || CASE WHEN span = 7 THEN 'w' ELSE '' END || to_char(first, 'YYYYMMDD');
        EXECUTE format('CREATE TABLE %I PARTITION OF event_keys FOR VALUES FROM (%L) TO (%L)',
                       name, first || ' 00:00:00+00', (first + span) || ' 00:00:00+00');
        first := first + span;
    END LOOP;
END
\$\$;
SET synchronous_commit = off;
INSERT INTO event_keys
SELECT 'bench-m-' || (1000 + i % 1000), 'hist-' || d || '-' || i, i,
       (date '$today' - d) + time '00:00' + (i::float8 / $KEYS) * interval '1 day'
FROM generate_series(1, $DAYS) AS d, generate_series(0, $KEYS - 1) AS i;
DO \$\$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'event_keys'::regclass LOOP
        EXECUTE format('CREATE UNIQUE INDEX %I ON %s (merchant_id, event_id)', part::text || '_key', part);
    END LOOP;
END
\$\$;
VACUUM ANALYZE event_keys;
SQL
    log "$layout: stored in $(($(date +%s) - start)) s; partitions: $(psql -X -w -Atq "${URL%/*}/$db" -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'event_keys'::regclass")"
done

script=$(mktemp)
trap 'rm -f "$script"; cleanup' EXIT
cat >"$script" <<'SQL'
\set r random(1, 1000000000)
SELECT count(*) FROM event_keys k
JOIN (SELECT 'bench-m-' || (1000 + (:r + i) % 1000) AS m, 'probe-' || :r || '-' || i AS e
      FROM generate_series(1, 100) AS i) AS q
  ON k.merchant_id = q.m AND k.event_id = q.e
WHERE (k.ingested_at >= :from AND k.ingested_at < :daystart)
   OR (k.ingested_at >= :tomorrow AND k.ingested_at < :to);
SQL

# The window each variant's gateway uses: from its first retained partition, leaving out what the
# unique index of the partition it writes covers (today; or this week, once it is known whole).
this_monday=$(monday "$today")
next_monday=$(date -u -d "$this_monday +7 days" +%F)
window() { # variant -> "db from own_start own_end"
    case $1 in
    day) echo "day $from_day $today $tomorrow" ;;
    week) echo "week $from_week $today $tomorrow" ;;
    wholeweek) echo "week $from_week $this_monday $next_monday" ;;
    esac
}
VARIANTS="day week wholeweek"

declare -A results
for run in $(seq 1 "$RUNS"); do
    for layout in $VARIANTS; do
        read -r db from own_start own_end < <(window "$layout")
        out=$("$PGBENCH" -n -M prepared -c 1 -T "$SECONDS_EACH" -f "$script" \
            -D "from=$from 00:00:00+00" -D "daystart=$own_start 00:00:00+00" \
            -D "tomorrow=$own_end 00:00:00+00" -D "to=$to" "${URL%/*}/gateway_probe_$db" 2>&1)
        ms=$(awk '/latency average/ { print $4 }' <<<"$out")
        [[ -n $ms ]] || { echo "$out" >&2; exit 1; }
        results[$layout]+="$ms "
        echo "run $run  $layout  lookup of 100 new keys: $ms ms (mean)"
    done
done
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] " (" v[1] "-" v[NR] ")" }'; }
for layout in $VARIANTS; do
    read -r db from own_start own_end < <(window "$layout")
    probed=$(psql -X -w -Atq "${URL%/*}/gateway_probe_$db" -c "
        PREPARE q(timestamptz, timestamptz, timestamptz, timestamptz) AS
        SELECT count(*) FROM event_keys k
        JOIN (SELECT 'bench-m-' || (1000 + i % 1000) AS m, 'probe-' || i AS e FROM generate_series(1, 100) AS i) AS q
          ON k.merchant_id = q.m AND k.event_id = q.e
        WHERE (k.ingested_at >= \$1 AND k.ingested_at < \$2) OR (k.ingested_at >= \$3 AND k.ingested_at < \$4);
        SET plan_cache_mode = force_generic_plan;
        EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
        EXECUTE q('$from 00:00:00+00', '$own_start 00:00:00+00', '$own_end 00:00:00+00', '$to');" |
        grep -oE 'on event_keys_w?[0-9]{8}' | sort -u | wc -l)
    echo "$layout: median $(median "${results[$layout]}") ms per lookup of 100 keys; partitions probed: $probed"
done
exit 0
}
