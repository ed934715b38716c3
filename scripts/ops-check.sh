#!/usr/bin/env bash
# Checks the operations artifacts in docs/ops with Prometheus' own tool:
#
#   scripts/ops-check.sh
#
#   promtool check rules docs/ops/alerts.yml       the rules parse and their expressions are valid
#   promtool test rules docs/ops/alerts_test.yml   every alert fires (and stays quiet) as its cases say
#
# Whether every metric the rules and docs/ops/dashboard.json name exists is checked by the Java
# tests against a running gateway (MetricsCatalogueIT), not here.
#
# promtool comes with Debian's "prometheus" package. When it is missing, this script installs it
# the way scripts/services.sh installs PostgreSQL and Redis: as root, with apt-get, without
# recommends. Containers have no init system, and the package must not start a Prometheus server
# here either: unless a policy-rc.d already forbids it, one is put in place for the install (and
# removed after), so invoke-rc.d starts nothing. Called by scripts/test.sh.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { echo "ops-check.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

POLICY=/usr/sbin/policy-rc.d

install_promtool() {
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null ||
        die "promtool is missing and this is not root on Debian/Ubuntu: install Debian's 'prometheus' package (it carries promtool) or put promtool on PATH"
    local out; out=$(mktemp)
    local apt=(apt-get -o DPkg::Lock::Timeout=300)
    local own_policy=0
    if [[ ! -e $POLICY ]]; then
        printf '#!/bin/sh\n# scripts/ops-check.sh: start no services during its install\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        own_policy=1
        trap 'rm -f "$POLICY"' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "installing prometheus (for promtool; apt-get)..."
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        "${apt[@]}" update >"$out" 2>&1 || { cat "$out" >&2; die "apt-get update failed"; }
    fi
    # </dev/null: a maintainer script that asks anything gets no answer instead of hanging CI.
    if ! "${apt[@]}" install -y --no-install-recommends prometheus >"$out" 2>&1 </dev/null; then
        log "install failed, refreshing package lists and retrying..."
        if ! { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends prometheus; } \
            >"$out" 2>&1 </dev/null; then
            cat "$out" >&2; rm -f "$out"
            die "apt-get install prometheus failed"
        fi
    fi
    rm -f "$out"
    if ((own_policy)); then
        rm -f "$POLICY"
        trap - EXIT
    fi
    command -v promtool >/dev/null || die "the prometheus package is installed but promtool is not on PATH"
}

command -v promtool >/dev/null || install_promtool

log "$(promtool --version 2>&1 | head -n1)"
promtool check rules docs/ops/alerts.yml
promtool test rules docs/ops/alerts_test.yml
echo "ops-check: alert rules valid and their tests pass"
