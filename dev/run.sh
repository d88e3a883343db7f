#!/usr/bin/env bash
# `make run`: the whole system on this machine, with demo data. Without DANBIO_BROKER_URL and
# <SERVICE>_DATABASE_URL it uses the embedded defaults (SQLite files under .data/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DANBIO_DATA_DIR="${DANBIO_DATA_DIR:-$PWD/.data}"
mkdir -p "$DANBIO_DATA_DIR"

for service in identity patients notifications; do
  python -m "$service" migrate
done
python -m patients load-reference

cat <<MSG

  danbio is starting (Ctrl-C stops everything):
    web UI          http://127.0.0.1:8000
    gateway         http://127.0.0.1:8080
    identity        http://127.0.0.1:8101/docs
    patients        http://127.0.0.1:8102/docs
    notifications   http://127.0.0.1:8103/docs
  data: ${DANBIO_DATA_DIR}   broker: ${DANBIO_BROKER_URL:-embedded (SQLite)}

MSG
exec honcho start -f Procfile
