#!/usr/bin/env bash
# `make test`: start the real servers the tests need (only those not already running), run every
# test, stop what this run started. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

# Development values of the realm file's placeholders (the environment wins).
while IFS='=' read -r name value; do
  [[ -n "${!name:-}" ]] || export "$name=$value"
done < <(grep -E '^[A-Z0-9_]+=' dev/keycloak-dev.env)

# shellcheck source=dev/servers/_lib.sh
. dev/servers/_lib.sh
ensure_debs chromium   # the headless browser of the Playwright UI tests (installed only if missing)

WITH_KEYCLOAK=0 dev/servers/all.sh start   # PostgreSQL and RabbitMQ, which most tests need at once

# Keycloak starts slowest and only some tests need it: it starts in the background while the tests
# run; the keycloak_url fixture waits for it (and reads the rc file to fail fast if it could not start).
export DANBIO_TEST_KEYCLOAK_STARTING="$(mktemp -d /tmp/danbio-keycloak-start.XXXXXX)"
(
  set +e
  WITH_KEYCLOAK=1 DANBIO_KC_IMPORT_DIR="$PWD/deploy/keycloak" dev/servers/all.sh start \
    >"$DANBIO_TEST_KEYCLOAK_STARTING/log" 2>&1
  echo $? >"$DANBIO_TEST_KEYCLOAK_STARTING/rc"
) &
keycloak_start_pid=$!
cleanup() {
  wait "$keycloak_start_pid" 2>/dev/null || true
  dev/servers/all.sh stop --only-started
  rm -rf -- "$DANBIO_TEST_KEYCLOAK_STARTING"
}
trap cleanup EXIT

export DANBIO_TEST_PG_URL="$(dev/servers/postgres.sh url)"
export DANBIO_TEST_AMQP_URL="$(dev/servers/rabbitmq.sh url)"
export DANBIO_TEST_RABBITMQ_CTL="$PWD/dev/servers/rabbitmq.sh"
# The outage tests (tests/chaos) stop and start the servers with these (start/stop/status).
export DANBIO_TEST_POSTGRES_CTL="$PWD/dev/servers/postgres.sh"
export DANBIO_TEST_KEYCLOAK_CTL="$PWD/dev/servers/keycloak.sh"
export DANBIO_TEST_KEYCLOAK_URL="$(dev/servers/keycloak.sh url)"

python -m pytest "$@"
