#!/usr/bin/env bash
# Replay benchmark: one merchant with a 1,000,000-event backlog, read back through
# GET /v1/merchants/{m}/events as NDJSON by a client (curl) that reads as fast as it can.
# Prints events/s per run and the median. Everything runs on this machine.
#
#   perf/replay-bench.sh            # REPLAY_EVENTS=1000000 REPLAY_RUNS=3 by default
#
# Uses its own database (REPLAY_BENCH_DB, default gateway_replay_bench) on the PostgreSQL of
# scripts/services.sh, so apps created by other runs (secrets sealed under other keys) and other
# people's tests do not interfere. Stops its gateway on exit.
#
#   REPLAY_GATEWAY_JAR   the gateway jar to run (default: this tree's, built if missing)
#   REPLAY_SEED_MASKS    patch (default) or whole: how the seed stores the masks
#                        (perf/stream-seed.sql; whole for a jar from before session 35)
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${REPLAY_EVENTS:-1000000}
RUNS=${REPLAY_RUNS:-3}
DB=${REPLAY_BENCH_DB:-gateway_replay_bench}
BASE_URL=${GATEWAY_PG_URL:-postgresql://gateway:gateway@127.0.0.1:5432/gateway}

scripts/services.sh >/dev/null
JAR=${REPLAY_GATEWAY_JAR:-$(find gateway/target -maxdepth 1 -name 'gateway-*.jar' ! -name 'original-*' 2>/dev/null | head -n 1)}
SEED_MASKS=${REPLAY_SEED_MASKS:-patch}
[[ $SEED_MASKS == patch || $SEED_MASKS == whole ]] || { echo "REPLAY_SEED_MASKS must be patch or whole" >&2; exit 2; }
if [[ -z $JAR ]]; then
  mvn -B -ntp -q -DskipTests package
  JAR=$(find gateway/target -maxdepth 1 -name 'gateway-*.jar' ! -name 'original-*' | head -n 1)
fi

PG_URL=${BASE_URL%/*}/$DB
psql "$BASE_URL" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || psql "$BASE_URL" -qc "CREATE DATABASE $DB"
psql "$PG_URL" -qc "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export GATEWAY_PG_URL=$PG_URL GATEWAY_HTTP_PORT=$PORT GATEWAY_HTTP_HOST=127.0.0.1
export GATEWAY_ADMIN_TOKEN=adm_$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
export GATEWAY_INGEST_TOKEN=ing_$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
export GATEWAY_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
LOG=$(mktemp /tmp/replay-bench.XXXXXX.log)
java -jar "$JAR" >"$LOG" 2>&1 &
GW=$!
trap 'kill -TERM $GW 2>/dev/null; wait $GW 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break
  sleep 0.5
done

M=replay-$(date +%s)
echo "seeding $EVENTS events for $M ..."
# the seed's masks are trusted under the gateway's masking fingerprint (its log names it)
MASKED_BY=$(grep -o 'masking rules fingerprint [^)]*' "$LOG" | tail -n1 | awk '{ print $4 }')
[[ -n $MASKED_BY ]] || { echo "no masking fingerprint in $LOG" >&2; exit 1; }
psql -q -v ON_ERROR_STOP=1 -v merchant="$M" -v events="$EVENTS" -v masked_by="$MASKED_BY" \
  -v masks="$SEED_MASKS" -f perf/stream-seed.sql "$PG_URL" >/dev/null
APP=$(curl -sf -XPOST "http://127.0.0.1:$PORT/v1/apps" -H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" \
  -d '{"name":"replay-bench","delivery":{"mode":"websocket"}}')
APP_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["appId"])' <<<"$APP")
TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$APP")
curl -sf -o /dev/null -XPUT "http://127.0.0.1:$PORT/v1/merchants/$M/grants/$APP_ID" \
  -H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" -d '{"start":"earliest"}'

RATES=()
for run in $(seq 1 "$RUNS"); do
  START=$(date +%s.%N)
  LINES=$(curl -sf "http://127.0.0.1:$PORT/v1/merchants/$M/events?limit=$EVENTS" \
    -H "Authorization: Bearer $TOKEN" | wc -l)
  END=$(date +%s.%N)
  RATE=$(python3 -c "print(int($LINES / ($END - $START)))")
  [[ $LINES -eq $EVENTS ]] || { echo "run $run: got $LINES lines, expected $EVENTS" >&2; exit 1; }
  echo "run $run: $LINES events in $(python3 -c "print(round($END - $START, 2))") s = $RATE events/s"
  RATES+=("$RATE")
done
echo "median: $(printf '%s\n' "${RATES[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') events/s"
