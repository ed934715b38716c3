# Install Debian packages for a test tool, the way scripts/services.sh does: only as root with
# apt-get, noninteractive, without recommends, "apt-get update" only when the lists are empty or
# the first attempt fails, and with no service started by a package's maintainer scripts (a
# policy-rc.d that forbids it is put in place for the install unless one exists). Source it after
# defining log() and die(); it defines:
#
#   apt_install PACKAGE...      installs them (dies, with apt's output, when it cannot)
# shellcheck shell=bash

apt_install() {
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null ||
        die "$* missing and this is not root on Debian/Ubuntu: install them (Debian packages: $*)"
    local out; out=$(mktemp)
    local apt=(apt-get -o DPkg::Lock::Timeout=300)
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# scripts/lib/apt.sh: start no services during its install\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "installing $* (apt-get)..."
    local ok=1
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        "${apt[@]}" update >"$out" 2>&1 </dev/null || ok=0
    fi
    # </dev/null: a maintainer script that asks anything gets no answer instead of hanging CI.
    if ((ok)) && ! "${apt[@]}" install -y --no-install-recommends "$@" >"$out" 2>&1 </dev/null; then
        log "install failed, refreshing package lists and retrying..."
        { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "$@"; } \
            >"$out" 2>&1 </dev/null || ok=0
    fi
    ((own_policy)) && rm -f "$policy"
    if ((!ok)); then
        cat "$out" >&2; rm -f "$out"
        die "apt-get install $* failed"
    fi
    rm -f "$out"
}
