#!/usr/bin/env bash
# The main job. Without arguments: the demo (services up, gateway up, a simulated
# marketplace feeding orders of a few merchants, and the sequenced events read back
# printed as they commit). With --gateway-only: just the gateway, in the foreground.
# Ctrl-C (SIGINT) or SIGTERM stops the gateway gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=demo
case "${1:-}" in
  "") ;;
  --gateway-only) mode=gateway ;;
  -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
  *) echo "usage: scripts/run.sh [--gateway-only]" >&2; exit 2 ;;
esac

scripts/services.sh

jar() { find gateway/target -maxdepth 1 -name 'gateway-*.jar' ! -name 'original-*' ! -name '*-sources.jar' ! -name '*-tests.jar' 2>/dev/null | head -n 1; }
# Build when there is no jar yet or a source or pom changed since it was built.
if [[ -z "$(jar)" ]] || [[ -n "$(find pom.xml ./*/pom.xml ./*/src -newer "$(jar)" -type f 2>/dev/null | head -n 1)" ]]; then
  echo "building the gateway (mvn -DskipTests package)..."
  mvn -B -ntp -q -DskipTests package
fi

# Tokens and the secret key are required. Unless the caller set them, the demo makes
# random ones once and keeps them (mode 600) so apps created in one run work in the next.
creds=target/demo-credentials.env
if [[ -z "${GATEWAY_ADMIN_TOKEN:-}" || -z "${GATEWAY_INGEST_TOKEN:-}" || -z "${GATEWAY_SECRET_KEY:-}" ]]; then
  if [[ ! -f $creds ]]; then
    mkdir -p target
    rand() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
    umask 077
    {
      echo "GATEWAY_ADMIN_TOKEN=adm_$(rand 24 | tr '+/' '-_')"
      echo "GATEWAY_INGEST_TOKEN=ing_$(rand 24 | tr '+/' '-_')"
      echo "GATEWAY_SECRET_KEY=$(rand 32)"
    } > "$creds"
  fi
  # only what the caller did not set: a token or key given in the environment is kept
  while IFS= read -r line; do
    name=${line%%=*}
    value=${line#*=}
    case $name in
      GATEWAY_ADMIN_TOKEN | GATEWAY_INGEST_TOKEN | GATEWAY_SECRET_KEY)
        if [[ -z "${!name:-}" ]]; then
          export "$name=$value"
          echo "demo credentials: $name from $creds"
        fi
        ;;
    esac
  done < "$creds"
fi

if [[ $mode == gateway ]]; then
  exec java -jar "$(jar)"
fi
exec java -jar "$(jar)" --demo
