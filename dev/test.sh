#!/usr/bin/env bash
# `make test`: start the real servers the tests need (only those not already running), run every
# test, stop what this run started. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

dev/servers/all.sh start
trap 'dev/servers/all.sh stop --only-started' EXIT

export DANBIO_TEST_PG_URL="$(dev/servers/postgres.sh url)"
export DANBIO_TEST_AMQP_URL="$(dev/servers/rabbitmq.sh url)"
export DANBIO_TEST_RABBITMQ_CTL="$PWD/dev/servers/rabbitmq.sh"

python -m pytest "$@"
