# Shared by scripts/drill.sh and the perf/*-bench.sh scripts: run a private gateway for one drill or
# benchmark. Source it after defining log() and die(); it defines:
#
#   free_port                     a free TCP port on loopback (echoed)
#   new_gateway_credentials       exports GATEWAY_HTTP_HOST=127.0.0.1 and fresh GATEWAY_ADMIN_TOKEN,
#                                 GATEWAY_INGEST_TOKEN; sets (does not export) GATEWAY_SECRET_KEY
#   start_gateway_process JAR LOG [VAR=value...]
#                                 starts `${GATEWAY_JAVA:-java} $GATEWAY_JAVA_OPTS -jar JAR` on a free port (extra
#                                 environment for it as arguments), sets GW_PID, GW_PORT and BASE,
#                                 and waits up to GATEWAY_READY_TIMEOUT (60) s for /health/ready
#   stop_gateway                  SIGTERM, up to 30 s for a graceful stop, then SIGKILL; idempotent
#   use_own_database NAME         creates NAME on GATEWAY_PG_URL's server if missing, points
#                                 GATEWAY_PG_URL at it and empties it
# shellcheck shell=bash

GW_PID="" GW_PORT="" BASE=""

free_port() {
    local port lo
    # Below the kernel's ephemeral range: a port in it can be taken by a client connection's local
    # end between this check and the bind (seen with 3-node drills: BindException at startup).
    lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    ((lo > 20000 + 2000)) || lo=50000
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % (lo - 20000)))
        ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
    done
    die "no free port found"
}

new_gateway_credentials() {
    export GATEWAY_HTTP_HOST=127.0.0.1
    GATEWAY_ADMIN_TOKEN=adm-$(openssl rand -hex 24)
    GATEWAY_INGEST_TOKEN=ing-$(openssl rand -hex 24)
    export GATEWAY_ADMIN_TOKEN GATEWAY_INGEST_TOKEN
    GATEWAY_SECRET_KEY=$(openssl rand -base64 32)
}

start_gateway_process() { # JAR LOG [VAR=value...]
    local jar=$1 logfile=$2
    shift 2
    GW_PORT=$(free_port)
    BASE=http://127.0.0.1:$GW_PORT
    log "starting gateway on 127.0.0.1:$GW_PORT${*:+ with $*} (log: $logfile)"
    # 8>&-: a lock the caller holds on fd 8 must not live on in the gateway.
    # shellcheck disable=SC2086
    env "$@" GATEWAY_HTTP_PORT="$GW_PORT" GATEWAY_SECRET_KEY="$GATEWAY_SECRET_KEY" \
        "${GATEWAY_JAVA:-java}" ${GATEWAY_JAVA_OPTS:-} -jar "$jar" >"$logfile" 2>&1 8>&- &
    GW_PID=$!
    for _ in $(seq 1 "${GATEWAY_READY_TIMEOUT:-60}"); do
        curl -fsS -o /dev/null "$BASE/health/ready" 2>/dev/null && return 0
        kill -0 "$GW_PID" 2>/dev/null || { tail -n 30 "$logfile" >&2; die "gateway exited during startup"; }
        sleep 1
    done
    die "gateway not ready after ${GATEWAY_READY_TIMEOUT:-60} s (log: $logfile)"
}

stop_gateway() {
    [[ -n $GW_PID ]] || return 0
    if kill -0 "$GW_PID" 2>/dev/null; then
        log "stopping gateway (pid $GW_PID, SIGTERM)..."
        kill -TERM "$GW_PID" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 1; done
        if kill -0 "$GW_PID" 2>/dev/null; then
            log "gateway did not stop in 30 s, SIGKILL"
            kill -KILL "$GW_PID" 2>/dev/null || true
        fi
    fi
    wait "$GW_PID" 2>/dev/null || true
    GW_PID=""
}

forget_apps_in_redis() { # the cursor hashes (gw:ch:{app:merchant}) of GATEWAY_PG_URL's apps, from a single Redis
    [[ -n ${GATEWAY_REDIS_URL:-} && ${GATEWAY_REDIS_CLUSTER:-false} != true ]] || return 0
    local ids
    ids=$(psql -X -w -Atq "$GATEWAY_PG_URL" -c "SELECT app_id FROM apps" 2>/dev/null) || return 0
    [[ -n $ids ]] || return 0
    # one walk of the key space for all of them; merchant ids are plain, one key a line
    redis-cli -u "$GATEWAY_REDIS_URL" --scan --pattern 'gw:ch:{*' |
        grep -F -f <(sed 's/^/gw:ch:{/; s/$/:/' <<<"$ids") |
        xargs -r -d '\n' -n 500 redis-cli -u "$GATEWAY_REDIS_URL" unlink >/dev/null || true
}

use_own_database() { # NAME: create it on GATEWAY_PG_URL's server if missing, point GATEWAY_PG_URL at it, empty it
    local db=$1
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name '$db' must be a plain lower-case identifier"
    if [[ -z $(psql -X -w -Atq "$GATEWAY_PG_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
        log "creating database $db"
        psql -X -w -q "$GATEWAY_PG_URL" -c "CREATE DATABASE $db" || die "cannot create database $db"
    fi
    GATEWAY_PG_URL=${GATEWAY_PG_URL%%\?*}
    export GATEWAY_PG_URL=${GATEWAY_PG_URL%/*}/$db
    # The schema stays (the gateway migrates it at startup if new); the data goes, and with it the
    # cursor hashes its apps left in the shared Redis.
    forget_apps_in_redis
    psql -X -w -q "$GATEWAY_PG_URL" -c "DO \$\$ BEGIN IF to_regclass('event_chunks') IS NOT NULL THEN
        TRUNCATE event_chunks, event_keys, merchants, apps CASCADE; END IF; END \$\$" >/dev/null ||
        die "cannot empty database $db"
}
