# Shared by the perf/*-bench.sh scripts: measuring on a shared 2-core box. Source it after defining
# log(); it defines:
#
#   wait_other_benches   waits while a process matching $OTHERS (an extended regex) runs
#   wait_quiet           waits up to $QUIET_WAIT s until the machine is idle (at most 25% of a core
#                        busy over 3 s): other work would be measured as gateway slowness
#   before_run           both, before each measured run
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

before_run() { wait_other_benches; wait_quiet; wait_other_benches; }
