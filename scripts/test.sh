#!/usr/bin/env bash
# Run the whole test suite: make sure PostgreSQL and Redis are up (the
# integration tests need real instances), then the full Maven build, then a
# tiny peak-day drill (scripts/drill.sh at DRILL_SCALE=tiny, about 30 s): the
# whole path from Gatling through ingest to verifying WebSocket and callback
# consumers, failing on any event lost, reordered or applied twice.
# Extra arguments are passed to Maven, e.g. scripts/test.sh -pl gateway
# (SKIP_DRILL=1 skips the drill).
set -euo pipefail

# Run from the repo root whatever the caller's working directory is.
cd "$(dirname "$0")/.."

scripts/services.sh
# -B: batch mode (no colours/prompts in CI logs); -ntp: no download-progress
# spam. "verify" runs unit and integration tests plus packaging checks.
mvn -B -ntp verify "$@"

if [[ ${SKIP_DRILL:-0} != 1 ]]; then
    # It runs the jars and the simulation "verify" just built; its report is
    # target/drill/latest/report.md.
    DRILL_SCALE=tiny scripts/drill.sh
    # And it refuses, before anything heavy, a run PostgreSQL's disk cannot take (exit 3).
    rc=0
    DRILL_SCALE=5000 scripts/drill.sh 2>target/drill/refusal.txt >/dev/null || rc=$?
    if [[ $rc != 3 ]] || ! grep -q 'refusing to start' target/drill/refusal.txt; then
        echo "scripts/drill.sh did not refuse a run too big for the disk (exit $rc):" >&2
        cat target/drill/refusal.txt >&2
        exit 1
    fi
    echo "drill: the disk check refused a run too big for the disk, as it should"
fi
