#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, against the real servers (started if not running, and
# stopped afterwards if this run started them). Each prints its table and a JSON line; a benchmark
# that misses its target exits 1, and this script reports which ones did.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
# wrk drives the gateway benchmark (Debian package).
. dev/servers/_lib.sh && ensure_debs wrk

WITH_KEYCLOAK=1 dev/servers/all.sh start || exit 2
trap 'dev/servers/all.sh stop --only-started' EXIT
export DANBIO_TEST_PG_URL="$(dev/servers/postgres.sh url)"
export DANBIO_TEST_AMQP_URL="$(dev/servers/rabbitmq.sh url)"
export DANBIO_TEST_RABBITMQ_CTL="$PWD/dev/servers/rabbitmq.sh"
export DANBIO_TEST_KEYCLOAK_URL="$(dev/servers/keycloak.sh url)"

missed=()
for bench in ${BENCHES:-bus gateway patients user_search}; do
  echo "== bench/$bench.py"
  python "bench/$bench.py" || missed+=("$bench")
done
((${#missed[@]} == 0)) || { echo "targets missed or errors in: ${missed[*]}"; exit 1; }
