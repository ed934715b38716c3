#!/usr/bin/env bash
# Run the whole test suite: make sure PostgreSQL and Redis are up (the
# integration tests need real instances), then the full Maven build.
# Extra arguments are passed to Maven, e.g. scripts/test.sh -pl gateway-core
set -euo pipefail

# Run from the repo root whatever the caller's working directory is.
cd "$(dirname "$0")/.."

scripts/services.sh
# -B: batch mode (no colours/prompts in CI logs); -ntp: no download-progress
# spam. "verify" runs unit and integration tests plus packaging checks.
exec mvn -B -ntp verify "$@"
