#!/usr/bin/env bash
# Poor man's wait-event profile: samples what every active backend of the database is doing
# (wait event, or CPU) every 50 ms for N seconds, and counts it by statement. Run it while
# perf/ingest-bench.sh is loading the gateway:
#
#   perf/pg-waits.sh 15 postgresql://gateway:gateway@127.0.0.1:5432/gateway_ingest_bench
set -euo pipefail
secs=${1:-15}
url=${2:-postgresql://gateway:gateway@127.0.0.1:5432/gateway_ingest_bench}
end=$(($(date +%s) + secs))
samples=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
while (($(date +%s) < end)); do
    psql -X -w -Atq "$url" -c "
        SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' | ' || state || ' | '
               || left(regexp_replace(query, '\s+', ' ', 'g'), 50)
        FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend'
          AND pid <> pg_backend_pid() AND state <> 'idle'" >>"$out"
    samples=$((samples + 1))
    sleep 0.05
done
echo "$samples samples over ${secs}s; backend states (count, wait event | state | statement):"
sort "$out" | uniq -c | sort -rn | head -n 25
