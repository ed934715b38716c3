#!/usr/bin/env bash
# CPU time against time spent runnable but waiting for a CPU, over a window, for a gateway's
# threads (grouped by name: event loops, JIT compiler, GC, Lettuce) and the PostgreSQL backends of
# one database, from /proc/<pid>/schedstat (Linux; no root needed for your own processes and, as
# root, for PostgreSQL's).
#
#   perf/schedstat.sh GATEWAY_PID DATABASE [SECONDS]
#
# Run it while a benchmark is in its measured window, e.g. 18 s after perf/stream-bench.sh live
# prints "warm-up: 15 s" (the gateway's pid: pgrep -f 'java.*-jar .*gateway.jar').
# GATEWAY_PG_URL (default postgresql://gateway:gateway@127.0.0.1:5432/gateway) lists the backends.
set -euo pipefail
pid=${1:?usage: perf/schedstat.sh GATEWAY_PID DATABASE [SECONDS]}
db=${2:?usage: perf/schedstat.sh GATEWAY_PID DATABASE [SECONDS]}
seconds=${3:-25}
url=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
[[ $db =~ ^[A-Za-z0-9_]+$ ]] || { echo "schedstat: odd database name: $db" >&2; exit 2; }
backends=$(psql -X -At "$url" -c \
    "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()")

snap() {
    local t
    for t in /proc/"$pid"/task/*; do
        printf 'gw %s %s\n' "$(tr ' ' _ <"$t/comm")" "$(cat "$t/schedstat" 2>/dev/null || echo '0 0 0')"
    done
    for t in $backends; do
        printf 'pg backends %s\n' "$(cat /proc/"$t"/schedstat 2>/dev/null || echo '0 0 0')"
    done
}

before=$(mktemp)
after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snap >"$before"
sleep "$seconds"
snap >"$after"
echo "schedstat over ${seconds}s: gateway pid $pid, backends of $db: $(echo $backends | wc -w)"
python3 - "$before" "$after" <<'EOF'
import re, sys
def load(f):
    return [l.split() for l in open(f) if len(l.split()) >= 5]
totals = {}
for a, b in zip(load(sys.argv[1]), load(sys.argv[2])):
    if a[:2] != b[:2]:
        continue  # a thread came or went between the two snapshots
    name = a[0] + ':' + (re.sub(r'[-_#]?\d+$', '', a[1]) if a[0] == 'gw' else a[1])
    t = totals.setdefault(name, [0, 0, 0])
    for i in range(3):
        t[i] += int(b[2 + i]) - int(a[2 + i])
for name, (cpu, wait, slices) in sorted(totals.items(), key=lambda x: -x[1][0])[:8]:
    print(f"  {name:28s} CPU {cpu / 1e9:6.2f} s  runnable, waiting {wait / 1e9:6.2f} s"
          f" ({100 * wait / max(cpu, 1):.0f}% of its CPU)  {slices} slices")
EOF
