#!/usr/bin/env bash
# Run the whole test suite: make sure PostgreSQL and Redis are up (the
# integration tests need real instances), check the alert rules with promtool
# (scripts/ops-check.sh, installing Debian's prometheus package for it when
# missing), then the full Maven build, then the operator console in headless Chromium
# (scripts/console-check.sh), then the Node samples for ISVs against a real
# gateway (scripts/node-sample-check.sh), then a tiny app drill against the Node
# sample consumer (scripts/app-drill-check.sh), then a
# tiny peak-day drill (scripts/drill.sh at DRILL_SCALE=tiny, about 30 s): the
# whole path from Gatling through ingest to verifying WebSocket and callback
# consumers, failing on any event lost, reordered or applied twice.
# Extra arguments are passed to Maven, e.g. scripts/test.sh -pl gateway.
# --skip-drill (first argument) skips the drill and its disk check, for a quick
# local run only: the run then ends saying so, and CI (.ci/run) never passes it.
# The SKIP_DRILL environment variable is refused: a skip must be asked for on
# the command line, where it shows, not inherited silently.
set -euo pipefail

# Run from the repo root whatever the caller's working directory is.
cd "$(dirname "$0")/.."

if [[ -n ${SKIP_DRILL:-} ]]; then
    echo "scripts/test.sh: SKIP_DRILL=$SKIP_DRILL is not honoured: the drill is part of the tests." >&2
    echo "  Unset it; to skip the drill on purpose in a local run, pass --skip-drill." >&2
    exit 2
fi
skip_drill=0
if [[ ${1:-} == --skip-drill ]]; then
    skip_drill=1
    shift
fi

scripts/services.sh
# And a local 3-master Redis Cluster on 127.0.0.1:7000-7002 for the ITs that run on one
# (LifecycleRedisClusterIT, RedisClusterIT, OwnershipRedisClusterIT).
GATEWAY_REDIS_CLUSTER=true scripts/services.sh
# The alert rules parse and fire as their promtool cases say (docs/ops); seconds.
scripts/ops-check.sh
# -B: batch mode (no colours/prompts in CI logs); -ntp: no download-progress
# spam. "verify" runs unit and integration tests plus packaging checks.
mvn -B -ntp verify "$@"
# The operator console in headless Chromium against a gateway from the jar just built (about 15 s;
# installs chromium, and node/npm when missing, from Debian's packages, playwright-core from npm).
scripts/console-check.sh
# The Node samples (client/node: WebSocket consumer, callback receiver) against a gateway from the same
# jar (about 30 s; ws and standardwebhooks from npm, pinned in client/node/package-lock.json).
scripts/node-sample-check.sh
# A tiny app drill the way an operator runs one, DRILL_APP=<app> scripts/drill.sh through a gateway's
# operator API, with the Node sample consumer as the ISV's app (about 40 s; docs/drills.md).
scripts/app-drill-check.sh

if [[ $skip_drill == 1 ]]; then
    echo "==============================================================" >&2
    echo "DRILL SKIPPED (--skip-drill): the peak-day drill and the disk" >&2
    echo "check did not run; this is not a full test run." >&2
    echo "==============================================================" >&2
    exit 0
fi

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
