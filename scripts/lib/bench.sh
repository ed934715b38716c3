# Shared by the perf/*-bench.sh scripts: measuring on a shared 2-core box. Source it after defining
# log(); it defines:
#
#   wait_other_benches   waits while a process matching $OTHERS (an extended regex) runs
#   wait_quiet           waits up to $QUIET_WAIT s until the machine is idle (at most 25% of a core
#                        busy over 3 s): other work would be measured as gateway slowness
#   before_run           both, before each measured run (and, once, logs the kernel's writeback
#                        setting, which moves PostgreSQL's latency tail)
#   start_cpu_sampler TOOL_PATTERN
#                        every second, a CPU snapshot into $OUT/cpu/<epoch ms>: machine-wide ticks
#                        and utime+stime per pid of the gateway ($OUT/gateway.pid), the load tool
#                        (pgrep -f TOOL_PATTERN), PostgreSQL, Redis and a private nats-server
#                        ($OUT/nats-server.pid, while it runs); sets SAMPLER_PID
#   cpu_split FROM_MS TO_MS [CLASSES]
#                        the two snapshots bracketing a measured window, as "gateway tool postgres
#                        redis other machine iowait" in % of one core ("- - - - - - -" if none);
#                        CLASSES (default "gateway tool postgres redis", any of those and nats)
#                        chooses the process columns before other, which is the rest of the machine
#   drop_database SERVER_URL DB
#                        DROP DATABASE ... WITH (FORCE), tried again for up to 120 s while an
#                        autovacuum worker is busy in it
# shellcheck shell=bash

wait_other_benches() {
    local waited=0
    [[ -n ${OTHERS:-} ]] || return 0
    while pgrep -f "$OTHERS" >/dev/null; do
        ((waited == 0)) && log "another benchmark is running ($(pgrep -af "$OTHERS" | head -n1 | cut -c1-100)...), waiting..."
        waited=$((waited + 30))
        sleep 30
    done
    ((waited == 0)) || log "other benchmark gone after ~${waited}s"
}

wait_quiet() {
    local waited=0 busy
    while :; do
        busy=$( { head -n1 /proc/stat; sleep 3; head -n1 /proc/stat; } | awk -v n="$(nproc)" '
            { b[NR] = $2+$3+$4+$7+$8+$9; t[NR] = b[NR]+$5+$6 } END { printf "%.0f", (b[2]-b[1]) / (t[2]-t[1]) * 100 * n }')
        ((busy <= 25)) && return 0
        if ((waited >= ${QUIET_WAIT:-0})); then
            log "WARNING: machine still busy (${busy}% of a core) after ${QUIET_WAIT:-0}s; measuring anyway"
            return 0
        fi
        ((waited == 0)) && log "machine busy with other work (${busy}% of a core), waiting up to ${QUIET_WAIT}s..."
        waited=$((waited + 3))
    done
}

before_run() { wait_other_benches; wait_quiet; wait_other_benches; note_writeback; }

# The kernel's writeback setting moves PostgreSQL's latency tail (docs/operations.md, "Disk
# writeback"): said once per benchmark, so a result can be told apart.
note_writeback() {
    [[ -z ${WRITEBACK_NOTED:-} ]] || return 0
    WRITEBACK_NOTED=1
    local b r
    b=$(cat /proc/sys/vm/dirty_background_bytes 2>/dev/null) || return 0
    r=$(cat /proc/sys/vm/dirty_background_ratio 2>/dev/null) || r='?'
    if ((b > 0)); then log "kernel writeback: vm.dirty_background_bytes=$b"
    else log "kernel writeback: vm.dirty_background_ratio=$r% (the default: PostgreSQL stalls every ~30 s; scripts/services.sh sets a byte bound when it starts PostgreSQL)"; fi
}

cpu_snapshot() { # FILE TOOL_PATTERN
    # One cat and one awk for every process's stat, not a fork per process: the sampler runs every
    # second on the box it measures (forking per pid cost it about 4% of a core).
    local group pid map="" files=()
    for group in gateway:"$(cat "$OUT/gateway.pid" 2>/dev/null || true)" tool:"$(pgrep -d: -f "$2" || true)" \
        postgres:"$(pgrep -d: -x postgres || true)" redis:"$(pgrep -d: -x redis-server || true)" \
        nats:"$(cat "$OUT/nats-server.pid" 2>/dev/null || true)"; do
        local pids=${group#*:}
        for pid in ${pids//:/ }; do
            map+="$pid=${group%%:*} "
            files+=("/proc/$pid/stat")
        done
    done
    {
        awk '/^cpu / { print "M", $2+$3+$4+$7+$8+$9, $6, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat
        if ((${#files[@]})); then
            # a process gone since pgrep is skipped: cat goes on past a missing file, and its
            # failure must not end the sampler under the callers' `set -e -o pipefail`
            { cat "${files[@]}" 2>/dev/null || true; } | awk -v map="$map" '
                BEGIN { n = split(map, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], x, "="); g[x[1]] = x[2] } }
                { p = $1; sub(/.*\) /, ""); print "P", g[p], p, $12 + $13 }'
        fi
    } >"$1.tmp" && mv "$1.tmp" "$1"
}

start_cpu_sampler() { # TOOL_PATTERN
    mkdir -p "$OUT/cpu"
    ( while :; do cpu_snapshot "$OUT/cpu/$(date +%s%3N)" "$1"; sleep 1; done ) &
    SAMPLER_PID=$!
}

cpu_split() { # FROM_MS TO_MS [CLASSES]
    local a b classes=${3:-gateway tool postgres redis}
    a=$(find "$OUT/cpu" -maxdepth 1 -name '[0-9]*' ! -name '*.tmp' -printf '%f\n' | sort -n | awk -v t="$1" '$1 >= t { print; exit }')
    b=$(find "$OUT/cpu" -maxdepth 1 -name '[0-9]*' ! -name '*.tmp' -printf '%f\n' | sort -n | awk -v t="$2" '$1 <= t { last = $1 } END { print last }')
    if [[ -z $a || -z $b || $a -ge $b ]]; then
        awk -v n="$(wc -w <<<"$classes")" 'BEGIN { for (i = 0; i < n + 3; i++) printf "%s-", i ? " " : ""; print "" }'
        return
    fi
    awk -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" -v t1="$a" -v t2="$b" -v classes="$classes" '
        FNR == 1 { f++ }
        $1 == "M" { busy[f] = $2; iow[f] = $3; tot[f] = $4 }
        $1 == "P" && f == 1 { before[$3] = $4 }
        $1 == "P" && f == 2 { used[$2] += $4 - ($3 in before ? before[$3] : 0) }
        END {
            c = hz * (t2 - t1) / 1000 / 100; m = (tot[2] - tot[1]) / 100 / n
            all = (busy[2] - busy[1]) / m; rest = all
            k = split(classes, cl, " ")
            for (i = 1; i <= k; i++) { v = used[cl[i]] / c; rest -= v; printf "%.0f ", v }
            printf "%.0f %.0f %.1f\n", rest, all, (iow[2] - iow[1]) / m
        }' "$OUT/cpu/$a" "$OUT/cpu/$b"
}

# The q-quantile (seconds) of a Prometheus histogram over a run: from the differences of its
# cumulative _bucket{le=...} samples between two scrapes, interpolated within the bucket as
# Prometheus's histogram_quantile does. 0 when nothing was recorded.
hist_quantile() { # before-file after-file name q
    awk -v n="$3_bucket" -v q="$4" '
        FNR == 1 { f++ }
        { split($1, a, "{") }
        a[1] == n && match($1, /le="[^"]*"/) {
            le = substr($1, RSTART + 4, RLENGTH - 5)
            if (f == 1) before[le] = $2; else { after[le] = $2; les[++k] = le }
        }
        END {
            if (k == 0) { print 0; exit }
            total = after["+Inf"] - before["+Inf"]
            if (total <= 0) { print 0; exit }
            rank = q * total; prev_le = 0; prev_c = 0
            for (i = 1; i <= k; i++) {
                le = les[i]; c = after[le] - before[le]
                if (c >= rank) {
                    if (le == "+Inf") { print prev_le; exit }
                    printf "%.6f\n", prev_le + (le - prev_le) * (c == prev_c ? 1 : (rank - prev_c) / (c - prev_c)); exit
                }
                prev_le = le; prev_c = c
            }
            print prev_le
        }' "$1" "$2"
}

# Drops a database, trying again for up to 30 s while PostgreSQL refuses because an autovacuum
# worker (a superuser's process, which FORCE may not end for this role) is busy in it.
drop_database() { # SERVER_URL DB
    local i
    for i in $(seq 1 600); do
        psql -X -w -q "$1" -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" >/dev/null 2>"${TMPDIR:-/tmp}/drop-db.$$" && return 0
        grep -q 'must be a member of the role' "${TMPDIR:-/tmp}/drop-db.$$" || { cat "${TMPDIR:-/tmp}/drop-db.$$" >&2; return 1; }
        sleep 0.2
    done
    cat "${TMPDIR:-/tmp}/drop-db.$$" >&2
    return 1
}
