#!/usr/bin/env bash
# `make run`: the whole system on this machine, with demo data. Without DANBIO_BROKER_URL and
# <SERVICE>_DATABASE_URL it uses the embedded defaults (SQLite files under .data/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DANBIO_DATA_DIR="${DANBIO_DATA_DIR:-$PWD/.data}"
mkdir -p "$DANBIO_DATA_DIR"

# The gateway signs the caller's principal; services verify it. Development keys live in .data.
if [[ -z "${DANBIO_PRINCIPAL_PUBLIC_KEY:-}" ]]; then
  if [[ ! -f "$DANBIO_DATA_DIR/principal-public.pem" ]]; then
    python - "$DANBIO_DATA_DIR" <<'PY'
import os, sys
from servicekit.principal import generate_keypair
private, public = generate_keypair()
directory = sys.argv[1]
with open(os.open(os.path.join(directory, "principal-signing.pem"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
    f.write(private)
with open(os.path.join(directory, "principal-public.pem"), "w") as f:
    f.write(public)
PY
  fi
  export DANBIO_PRINCIPAL_PUBLIC_KEY="$(cat "$DANBIO_DATA_DIR/principal-public.pem")"
  export GATEWAY_PRINCIPAL_SIGNING_KEY="$(cat "$DANBIO_DATA_DIR/principal-signing.pem")"
fi

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
