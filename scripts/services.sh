#!/usr/bin/env bash
# Make the PostgreSQL and Redis instances the gateway needs available.
#
#   scripts/services.sh          ensure both services answer (idempotent)
#   scripts/services.sh stop     stop the local instances this script manages
#
# Configuration (defaults match what the tests expect):
#   GATEWAY_PG_URL     postgresql://user[:password]@host[:port]/db
#                      default postgresql://gateway:gateway@127.0.0.1:5432/gateway
#   GATEWAY_REDIS_URL  redis://[:password@]host[:port]
#                      default redis://127.0.0.1:6379
#   GATEWAY_REDIS_CLUSTER=true
#                      a Redis Cluster instead: GATEWAY_REDIS_URL lists seed nodes,
#                      comma-separated (default redis://127.0.0.1:7000,...:7001,...:7002);
#                      when none answers on loopback, a local 3-master cluster is started
#                      on ports 7000-7002 (no replicas, AOF, data under /var/lib/gateway-redis)
#   GATEWAY_DIRTY_BACKGROUND_BYTES=67108864
#                      when this script sets up the local PostgreSQL and the kernel has no byte
#                      bound yet, the kernel's vm.dirty_background_bytes (host-wide, and it stays):
#                      dirty file data beyond it is written out in
#                      the background at once, instead of every 30 s in a burst that stalls
#                      PostgreSQL's WAL flushes for hundreds of ms (docs/operations.md,
#                      "Disk writeback"); "keep" leaves the kernel's setting alone
#
# Policy: if a service already answers at the configured URL we use it as is
# and touch nothing (so a second run is a fast no-op, and developers' own
# instances are respected). Only when it does not answer, the host is loopback
# and we are root on Debian/Ubuntu do we install/create/start a local one. In
# every other case we fail loudly instead of guessing.
#
# Assumes no systemd (CI containers): PostgreSQL is driven through Debian's
# pg_ctlcluster wrappers, Redis is run directly as a daemon.
set -euo pipefail

PG_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}
REDIS_CLUSTER=$(printf %s "${GATEWAY_REDIS_CLUSTER:-false}" | tr "[:upper:]" "[:lower:]")
case $REDIS_CLUSTER in
    true) REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002} ;;
    false) REDIS_URL=${GATEWAY_REDIS_URL:-redis://127.0.0.1:6379} ;;
    *) echo "services.sh: GATEWAY_REDIS_CLUSTER must be true or false, not '$REDIS_CLUSTER'" >&2; exit 2 ;;
esac
# The local cluster's ports, when this script starts one.
REDIS_CLUSTER_PORTS=(7000 7001 7002)

# Where our own Redis keeps pidfile, log and AOF. Under /var/lib so the data
# survives reboots of a dev box; we are root whenever we create it.
REDIS_BASE=/var/lib/gateway-redis
# Settings file dropped into the cluster's conf.d (Debian clusters include it).
PG_CONF_NAME=90-gateway.conf

log() { echo "services.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
join() { local out; out=$(printf '%s; ' "$@"); printf '%s' "${out%; }"; }

# ---------------------------------------------------------------- URL parsing

# Percent-decode (URLs may carry e.g. %40 for '@' in passwords). Backslashes
# are doubled first so printf %b only interprets the \x escapes we create.
urldecode() {
    local s=${1//\\/\\\\}
    printf '%b' "${s//%/\\x}"
}

# Splits "scheme://[user[:pass]@]host[:port][/path][?query]" into the globals
# U_USER U_PASS U_HOST U_PORT U_PATH. Bracketed IPv6 hosts ([::1]) supported.
parse_url() {
    local name=$1 url=$2 default_port=$3 rest auth hostport
    # Never echo the URL itself in errors: it may contain a password.
    [[ $url == *://* ]] || die "$name is not a URL (expected scheme://...)"
    rest=${url#*://}
    rest=${rest%%\?*}
    auth=${rest%%/*}
    U_PATH=""
    [[ $rest == */* ]] && U_PATH=${rest#*/}
    U_USER="" U_PASS=""
    if [[ $auth == *@* ]]; then
        local userinfo=${auth%@*}          # last '@' separates userinfo
        hostport=${auth##*@}
        U_USER=$(urldecode "${userinfo%%:*}")
        [[ $userinfo == *:* ]] && U_PASS=$(urldecode "${userinfo#*:}")
    else
        hostport=$auth
    fi
    if [[ $hostport == \[* ]]; then        # [ipv6]:port
        U_HOST=${hostport#\[}; U_HOST=${U_HOST%%]*}
        U_PORT=${hostport##*]}; U_PORT=${U_PORT#:}
    elif [[ $hostport == *:* ]]; then
        U_HOST=${hostport%%:*}; U_PORT=${hostport#*:}
    else
        U_HOST=$hostport; U_PORT=""
    fi
    U_PORT=${U_PORT:-$default_port}
    [[ -n $U_HOST ]] || die "no host in $name"
    [[ $U_PORT =~ ^[0-9]+$ ]] || die "bad port '$U_PORT' in $name"
}

parse_url GATEWAY_PG_URL "$PG_URL" 5432
PG_USER=$U_USER PG_PASS=$U_PASS PG_HOST=$U_HOST PG_PORT=$U_PORT PG_DB=$U_PATH
[[ -n $PG_USER && -n $PG_DB ]] || die "GATEWAY_PG_URL needs a user and a database: postgresql://user[:password]@host:port/db"
# Printable form: never show the password.
PG_SHOW="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"

# A cluster's seed list: the first seed stands for the cluster in the checks below.
parse_url GATEWAY_REDIS_URL "${REDIS_URL%%,*}" 6379
REDIS_PASS=$U_PASS REDIS_HOST=$U_HOST REDIS_PORT=$U_PORT
REDIS_SHOW="redis://$REDIS_HOST:$REDIS_PORT"

is_loopback() { [[ $1 == localhost || $1 == 127.* || $1 == ::1 ]]; }

# Installing/starting local services is only attempted where it is safe and
# possible: our own machine (loopback), as root, with apt available.
can_provision() {
    is_loopback "$1" && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null
}

# Serialise provisioning between concurrent runs (parallel CI jobs, two
# terminals) so they don't race on apt, pg_createcluster or redis startup.
# Taken only on the slow path: when everything already answers, no lock.
# Daemons we start must not inherit fd 9 (see "9>&-"), or they would hold
# the lock for their whole lifetime and block every later run.
LOCKED=0
take_lock() {
    ((LOCKED)) && return 0
    command -v flock >/dev/null || return 0
    local lockdir=/run/lock
    [[ -d $lockdir ]] || lockdir=/tmp
    exec 9>"$lockdir/gateway-services.lock"
    flock -w 600 9 || die "timed out waiting for another services.sh run"
    LOCKED=1
}

# ---------------------------------------------------------------- apt

# Install missing packages. "apt-get update" is slow, so only run it when the
# package lists are empty (fresh container) or the first attempt fails (stale
# lists). Output is kept quiet unless something goes wrong.
apt_install() {
    local out; out=$(mktemp)
    local apt=(apt-get -o DPkg::Lock::Timeout=300)
    export DEBIAN_FRONTEND=noninteractive
    log "installing $* (apt-get)..."
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        "${apt[@]}" update >"$out" 2>&1 9>&- || { cat "$out" >&2; die "apt-get update failed"; }
    fi
    if ! "${apt[@]}" install -y --no-install-recommends "$@" >"$out" 2>&1 9>&-; then
        log "install failed, refreshing package lists and retrying..."
        if ! { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "$@"; } >"$out" 2>&1 9>&-; then
            cat "$out" >&2; rm -f "$out"
            die "apt-get install $* failed"
        fi
    fi
    rm -f "$out"
}

# ---------------------------------------------------------------- PostgreSQL

pg_answers() {
    command -v psql >/dev/null || return 1
    # -w: never prompt for a password (would hang CI); -X: ignore ~/.psqlrc.
    PGPASSWORD=$PG_PASS PGCONNECT_TIMEOUT=5 \
        psql -X -w -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
        -c 'select 1' >/dev/null 2>&1
}

pg_version() {
    ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -n1
}

# Prints "version name status" of the cluster listening on $PG_PORT, if any.
pg_cluster_on_port() {
    command -v pg_lsclusters >/dev/null || return 0
    pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2, $4; exit }'
}

# SQL quoting helpers: passwords/names go to psql on stdin, never on the
# command line (which would show up in ps).
sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }
sql_ident()   { printf '"%s"' "${1//\"/\"\"}"; }

# The kernel's default writes dirty file data back when it is 30 s old or past 10% of memory (2.4
# GiB here): PostgreSQL's data files reach that in bursts every 30 s, and while one is written the
# WAL's fdatasync waits (300-700 ms stalls of raw pgbench on this box; perf/README.md). A bound in
# bytes makes the kernel write in the background all the time. Only set when the kernel has no byte
# bound yet (whatever its ratio), so an operator's own bound stays; a kernel that refuses (a
# container without /proc/sys write access) is left as it is, with a line saying so. The setting is
# the host's (not a container's) and stays after this script.
ensure_writeback() {
    local want=${GATEWAY_DIRTY_BACKGROUND_BYTES:-67108864} f=/proc/sys/vm/dirty_background_bytes
    [[ $want == keep ]] && return 0
    [[ $want =~ ^[0-9]+$ ]] && ((want >= 1048576)) ||
        die "GATEWAY_DIRTY_BACKGROUND_BYTES must be a number of bytes (at least 1048576) or keep, not '$want'"
    [[ -r $f ]] || return 0
    local now; now=$(cat "$f")
    ((now == 0)) || return 0
    if { echo "$want" >"$f"; } 2>/dev/null; then
        did+=("set vm.dirty_background_bytes to $want (there was no byte bound)")
    else
        log "note: cannot set vm.dirty_background_bytes here; PostgreSQL may stall on the kernel's 30 s writeback bursts"
    fi
}

ensure_pg() {
    if pg_answers; then
        echo "PostgreSQL: using $PG_SHOW (already running)"
        return
    fi
    local why="psql login failed"
    command -v psql >/dev/null || why="psql is not installed, so it cannot be checked"
    can_provision "$PG_HOST" || die "PostgreSQL at $PG_SHOW did not answer ($why), and it is not a local instance this script may set up (needs loopback host and root on Debian/Ubuntu). Start it yourself or point GATEWAY_PG_URL elsewhere."
    if [[ -z $PG_PASS ]]; then
        # a URL without a password gets a passwordless loopback login (below): a plain role name
        # only, since pg_hba reads "all", "+group", "@file" and lists specially, and never the
        # superuser. Checked before anything is set up.
        [[ $PG_USER =~ ^[a-z_][a-z0-9_]{0,62}$ ]] && [[ ! $PG_USER =~ ^(all|postgres|sameuser|samerole|samegroup|replication|pg_.*)$ ]] ||
            die "a URL without a password needs a plain role name ([a-z_][a-z0-9_]*, not postgres), not '$PG_USER'"
    fi
    take_lock
    # A concurrent run may have set it up while we waited for the lock.
    if pg_answers; then
        echo "PostgreSQL: using $PG_SHOW (set up by a concurrent run)"
        return
    fi

    local did=()
    ensure_writeback
    local ver; ver=$(pg_version)
    if [[ -z $ver ]] || ! command -v pg_createcluster >/dev/null; then
        apt_install postgresql
        did+=("installed postgresql")
        ver=$(pg_version)
        [[ -n $ver ]] || die "postgresql installed but nothing in /usr/lib/postgresql"
    fi

    # Pick the cluster: whichever one is configured for our port (any version);
    # else create "main" for the newest installed version; if "main" already
    # exists on another port (e.g. the package's default cluster), leave it
    # alone and create a dedicated "gateway" cluster on our port.
    local cver cname cstatus
    read -r cver cname cstatus < <(pg_cluster_on_port) || true
    if [[ -z ${cname:-} ]]; then
        cver=$ver cname=main
        [[ -d /etc/postgresql/$ver/main ]] && cname=gateway
        log "creating cluster $cver/$cname on port $PG_PORT..."
        pg_createcluster "$cver" "$cname" --port "$PG_PORT" >/dev/null
        cstatus=down
        did+=("created cluster $cver/$cname")
    fi

    # Tuning for a 2-core / 24 GiB box running a write-heavy event log.
    # Durability settings are spelled out on purpose: the product promises
    # that an acknowledged event is on disk, so never trade fsync for speed.
    local conf_dir=/etc/postgresql/$cver/$cname/conf.d
    local conf=$conf_dir/$PG_CONF_NAME new
    new=$(cat <<'EOF'
# Managed by scripts/services.sh -- edits will be overwritten.
listen_addresses = 'localhost'
max_connections = 200
shared_buffers = 1GB
wal_buffers = 16MB
max_wal_size = 4GB
checkpoint_timeout = 15min
# Durability is the product's promise: keep these on.
fsync = on
synchronous_commit = on
EOF
)
    local changed=0
    mkdir -p "$conf_dir"
    if [[ ! -f $conf ]] || [[ $(cat "$conf") != "$new" ]]; then
        printf '%s\n' "$new" >"$conf"
        changed=1
    fi

    # These settings need a restart; only do it when they actually changed.
    if [[ $cstatus == online* ]]; then
        if ((changed)); then
            log "settings changed, restarting cluster $cver/$cname..."
            pg_ctlcluster "$cver" "$cname" restart 9>&-
            did+=("restarted cluster $cver/$cname with new settings")
        fi
    else
        log "starting cluster $cver/$cname..."
        pg_ctlcluster "$cver" "$cname" start 9>&- || {
            tail -n 20 "/var/log/postgresql/postgresql-$cver-$cname.log" >&2 || true
            die "could not start PostgreSQL cluster $cver/$cname"
        }
        did+=("started cluster $cver/$cname")
    fi

    local waited=0
    until pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 1; do
        ((waited++ < 60)) || die "PostgreSQL on $PG_HOST:$PG_PORT not ready after 60 s (see /var/log/postgresql/postgresql-$cver-$cname.log)"
        sleep 1
    done

    # Role and database, as the postgres superuser over the Unix socket (peer
    # auth). The role's password is (re)set from the URL: this is a local
    # instance we manage, and the URL is the source of truth. CREATEDB lets
    # tests create scratch databases.
    local role pw_clause=""
    role=$(sql_ident "$PG_USER")
    [[ -n $PG_PASS ]] && pw_clause="PASSWORD $(sql_literal "$PG_PASS")"
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >/dev/null <<SQL
SELECT format('CREATE ROLE %I', $(sql_literal "$PG_USER"))
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $(sql_literal "$PG_USER")) \gexec
ALTER ROLE $role LOGIN CREATEDB $pw_clause;
SELECT format('CREATE DATABASE %I OWNER %I', $(sql_literal "$PG_DB"), $(sql_literal "$PG_USER"))
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $(sql_literal "$PG_DB")) \gexec
SQL

    # A URL without a password (postgresql://user@host:port/db, as PRODUCT.md writes it): that
    # user may log in over loopback without one. Debian's pg_hba asks every TCP login for a
    # scram password, which the role does not have; the first matching line wins, so ours go
    # first. Only for this local instance, only loopback, only this user.
    if [[ -z $PG_PASS ]]; then
        local hba added=0 line
        hba=$(runuser -u postgres -- psql -X -At -p "$PG_PORT" -d postgres -c 'SHOW hba_file')
        for line in "host all \"$PG_USER\" 127.0.0.1/32 trust" "host all \"$PG_USER\" ::1/128 trust"; do
            if ! grep -qxF "$line" "$hba"; then
                # first, so it wins over Debian's scram lines (also when the file is empty)
                { printf '%s\n' "$line"; cat "$hba"; } > "$hba.new"
                chown --reference="$hba" "$hba.new" && chmod --reference="$hba" "$hba.new"
                mv -f "$hba.new" "$hba"
                added=1
            fi
        done
        if ((added)); then
            pg_ctlcluster "$cver" "$cname" reload 9>&-
            did+=("let $PG_USER log in over loopback without a password (no password in the URL)")
        fi
    fi

    # Final proof: the exact login the application will use (TCP + password).
    pg_answers || die "PostgreSQL is running but login as $PG_SHOW failed. Check that the URL has a password and that /etc/postgresql/$cver/$cname/pg_hba.conf allows scram-sha-256 for host $PG_HOST."
    did+=("ensured role/database in cluster $cver/$cname")
    echo "PostgreSQL: using $PG_SHOW ($(join "${did[@]}"))"
}

stop_pg() {
    local cver cname cstatus
    read -r cver cname cstatus < <(pg_cluster_on_port) || true
    if [[ -z ${cname:-} ]]; then
        echo "PostgreSQL: no local cluster on port $PG_PORT"
    elif [[ $cstatus == online* ]]; then
        pg_ctlcluster "$cver" "$cname" stop
        echo "PostgreSQL: stopped cluster $cver/$cname (port $PG_PORT)"
    else
        echo "PostgreSQL: cluster $cver/$cname already stopped"
    fi
}

# ---------------------------------------------------------------- Redis

redis_answers() {
    local reply
    if command -v redis-cli >/dev/null; then
        # REDISCLI_AUTH keeps the password off the command line.
        reply=$(REDISCLI_AUTH=$REDIS_PASS timeout 5 \
            redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) || return 1
        [[ $reply == PONG ]]
    else
        # No client installed: speak RESP over bash's /dev/tcp. The whole
        # exchange runs under timeout so an unreachable host cannot hang us.
        REDIS_PASS=$REDIS_PASS timeout 5 bash -c '
            exec 3<>"/dev/tcp/$0/$1" || exit 1
            if [[ -n $REDIS_PASS ]]; then
                printf "AUTH %s\r\n" "$REDIS_PASS" >&3
                IFS= read -r line <&3; [[ $line == +OK* ]] || exit 1
            fi
            printf "PING\r\n" >&3
            IFS= read -r line <&3
            [[ $line == +PONG* ]]' "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null
    fi
}

ensure_redis() {
    if redis_answers; then
        echo "Redis: using $REDIS_SHOW (already running)"
        return
    fi
    can_provision "$REDIS_HOST" || die "Redis at $REDIS_SHOW did not answer PING, and it is not a local instance this script may set up (needs loopback host and root on Debian/Ubuntu). Start it yourself or point GATEWAY_REDIS_URL elsewhere."
    take_lock
    # A concurrent run may have started it while we waited for the lock.
    if redis_answers; then
        echo "Redis: using $REDIS_SHOW (started by a concurrent run)"
        return
    fi

    local did=()
    if ! command -v redis-server >/dev/null; then
        # (apt_install closes fd 9 too: a package postinst may start daemons.)
        apt_install redis-server
        did+=("installed redis-server")
        # The package may have started its own service (where policy-rc.d
        # allows it); if that already answers, just use it.
        if redis_answers; then
            echo "Redis: using $REDIS_SHOW (installed redis-server; started by the package)"
            return
        fi
    fi

    # Run as the unprivileged "redis" user the package creates, if present.
    local dir=$REDIS_BASE/$REDIS_PORT owner=root
    id redis >/dev/null 2>&1 && owner=redis
    mkdir -p "$dir/data"
    chown -R "$owner:" "$dir"
    # A stale pidfile (left by a crash) would confuse "stop"; drop it, but
    # never one that belongs to a live process.
    if [[ -f $dir/redis.pid ]] && ! kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
        rm -f "$dir/redis.pid"
    fi

    # No RDB snapshots (--save ""); durability via AOF fsynced every second.
    # "-::1": also listen on IPv6 loopback if available (localhost may
    # resolve to ::1), without failing where IPv6 is disabled.
    local args=(--port "$REDIS_PORT" --bind 127.0.0.1 -::1 --daemonize yes
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir/data"
        --save "" --appendonly yes --appendfsync everysec)
    [[ -n $REDIS_PASS ]] && args+=(--requirepass "$REDIS_PASS")
    log "starting redis-server on 127.0.0.1:$REDIS_PORT..."
    runuser -u "$owner" -- redis-server "${args[@]}" 9>&- || {
        tail -n 20 "$dir/redis.log" >&2 || true
        die "could not start redis-server"
    }

    local waited=0
    until redis_answers; do
        if ((waited++ >= 30)); then
            tail -n 20 "$dir/redis.log" >&2 || true
            die "Redis on 127.0.0.1:$REDIS_PORT did not answer PING after 30 s (log: $dir/redis.log)"
        fi
        sleep 1
    done
    did+=("started redis-server, data in $dir")
    echo "Redis: using $REDIS_SHOW ($(join "${did[@]}"))"
}

# ---------------------------------------------------------------- Redis Cluster

# redis-cli with the password when there is one (an empty REDISCLI_AUTH makes it send AUTH, which
# a server without a password refuses, failing --cluster create).
rcli() {
    if [[ -n $REDIS_PASS ]]; then REDISCLI_AUTH=$REDIS_PASS timeout 10 redis-cli "$@"; else timeout 10 redis-cli "$@"; fi
}

# Every seed node answers and reports cluster_state:ok (a master that is down makes its peers
# report fail only after the node timeout, so each one is asked).
redis_cluster_ok() {
    command -v redis-cli >/dev/null || return 1
    local seed hostport host port
    IFS=, read -ra seeds <<<"$REDIS_URL"
    for seed in "${seeds[@]}"; do
        hostport=${seed#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
        host=${hostport%:*}; port=${hostport##*:}
        [[ $hostport == *:* ]] || port=6379
        rcli -h "$host" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
}

ensure_redis_cluster() {
    if redis_cluster_ok; then
        echo "Redis Cluster: using $REDIS_SHOW (already running)"
        return
    fi
    can_provision "$REDIS_HOST" || die "Redis Cluster at $REDIS_SHOW is not answering with cluster_state:ok, and it is not a local instance this script may set up. Start it yourself or point GATEWAY_REDIS_URL elsewhere."
    [[ $REDIS_PORT == "${REDIS_CLUSTER_PORTS[0]}" ]] || die "a local Redis Cluster is started on ports ${REDIS_CLUSTER_PORTS[*]}; GATEWAY_REDIS_URL names port $REDIS_PORT"
    take_lock
    if redis_cluster_ok; then
        echo "Redis Cluster: using $REDIS_SHOW (started by a concurrent run)"
        return
    fi
    local did=()
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        apt_install redis-server redis-tools
        did+=("installed redis-server")
    fi
    local owner=root port dir
    id redis >/dev/null 2>&1 && owner=redis
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
        REDIS_PORT=$port
        if redis_answers; then
            continue
        fi
        dir=$REDIS_BASE/cluster-$port
        mkdir -p "$dir/data"
        chown -R "$owner:" "$dir"
        if [[ -f $dir/redis.pid ]] && ! kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
            rm -f "$dir/redis.pid"
        fi
        local args=(--port "$port" --bind 127.0.0.1 --daemonize yes
            --cluster-enabled yes --cluster-config-file "$dir/data/nodes.conf" --cluster-node-timeout 2000
            --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir/data"
            --save "" --appendonly yes --appendfsync everysec)
        [[ -n $REDIS_PASS ]] && args+=(--requirepass "$REDIS_PASS" --masterauth "$REDIS_PASS")
        log "starting redis-server (cluster mode) on 127.0.0.1:$port..."
        runuser -u "$owner" -- redis-server "${args[@]}" 9>&- || {
            tail -n 20 "$dir/redis.log" >&2 || true
            die "could not start redis-server on port $port"
        }
        local waited=0
        until redis_answers; do
            ((waited++ < 30)) || die "Redis on 127.0.0.1:$port did not answer PING after 30 s (log: $dir/redis.log)"
            sleep 1
        done
        did+=("started 127.0.0.1:$port")
    done
    REDIS_PORT=${REDIS_CLUSTER_PORTS[0]}
    # Nodes that remember their cluster (nodes.conf) form it again by themselves; fresh ones are
    # joined here, every slot over three masters.
    local known
    known=$(rcli -p "$REDIS_PORT" cluster info | awk -F: '/^cluster_known_nodes/ { print $2+0 }')
    if [[ $known -lt ${#REDIS_CLUSTER_PORTS[@]} ]]; then
        local nodes=()
        for port in "${REDIS_CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
        log "creating the cluster over ${nodes[*]}..."
        rcli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null ||
            die "redis-cli --cluster create failed"
        did+=("created the cluster")
    fi
    local waited=0
    until redis_cluster_ok; do
        ((waited++ < 60)) || die "the Redis Cluster on ${REDIS_CLUSTER_PORTS[*]} did not reach cluster_state:ok in 30 s"
        sleep 0.5
    done
    echo "Redis Cluster: using $REDIS_URL ($(join "${did[@]}"))"
}

stop_redis_cluster() {
    local port pidfile pid
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
        pidfile=$REDIS_BASE/cluster-$port/redis.pid
        if [[ -f $pidfile ]] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null; then
            rcli -p "$port" shutdown >/dev/null 2>&1 || true
            local waited=0
            while kill -0 "$pid" 2>/dev/null; do
                ((waited++ < 30)) || die "redis-server (pid $pid) did not stop"
                sleep 1
            done
            rm -f "$pidfile"
            echo "Redis Cluster: stopped the node on port $port"
        fi
    done
}

stop_redis() {
    local pidfile=$REDIS_BASE/$REDIS_PORT/redis.pid pid
    # Only stop an instance we started (our pidfile, live process).
    if [[ -f $pidfile ]] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null; then
        REDISCLI_AUTH=$REDIS_PASS redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        local waited=0
        while kill -0 "$pid" 2>/dev/null; do
            ((waited++ < 30)) || die "redis-server (pid $pid) did not stop"
            sleep 1
        done
        rm -f "$pidfile"
        echo "Redis: stopped instance on port $REDIS_PORT"
    else
        echo "Redis: no instance started by this script on port $REDIS_PORT"
    fi
}

# ---------------------------------------------------------------- main

case ${1:-start} in
    start)
        ensure_pg
        if [[ $REDIS_CLUSTER == true ]]; then ensure_redis_cluster; else ensure_redis; fi
        ;;
    stop)
        if is_loopback "$PG_HOST"; then stop_pg
        else echo "PostgreSQL: $PG_SHOW is not local, leaving it alone"; fi
        if [[ $REDIS_CLUSTER == true ]] && is_loopback "$REDIS_HOST"; then stop_redis_cluster
        elif is_loopback "$REDIS_HOST"; then stop_redis
        else echo "Redis: $REDIS_SHOW is not local, leaving it alone"; fi
        ;;
    *)
        echo "usage: $0 [start|stop]" >&2
        exit 2
        ;;
esac
