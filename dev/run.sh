#!/usr/bin/env bash
# `make run`: the whole system on this machine, with demo data. Without DANBIO_BROKER_URL and
# <SERVICE>_DATABASE_URL it uses the embedded defaults (SQLite files under .data/).
# Keycloak: the one answering at DANBIO_KEYCLOAK_URL, else a local one started here (and stopped
# on exit), with realm DANBIO_KEYCLOAK_REALM in step with deploy/keycloak/realm-danbio.json.
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

# Sealing keys (servicekit.sealed): one for what identity and notifications pass on the bus, one
# for the web UI's server-side sessions. Development keys live in .data too.
for variable in DANBIO_SEALING_KEY WEB_SESSION_KEY; do
  if [[ -z "${!variable:-}" ]]; then
    key_file="$DANBIO_DATA_DIR/$(tr 'A-Z_' 'a-z-' <<<"$variable")"
    if [[ ! -f "$key_file" ]]; then
      (umask 077 && python -c 'from servicekit.sealed import generate_key; print(generate_key())' >"$key_file")
    fi
    export "$variable=$(cat "$key_file")"
  fi
done

# Keycloak and the development values of the realm file's placeholders (the environment wins).
export DANBIO_KEYCLOAK_URL="${DANBIO_KEYCLOAK_URL:-http://127.0.0.1:8180}"
export DANBIO_KEYCLOAK_REALM="${DANBIO_KEYCLOAK_REALM:-danbio}"
while IFS='=' read -r name value; do
  [[ -n "${!name:-}" ]] || export "$name=$value"
done < <(grep -E '^[A-Z0-9_]+=' dev/keycloak-dev.env)
export IDENTITY_KEYCLOAK_CLIENT_SECRET="${IDENTITY_KEYCLOAK_CLIENT_SECRET:-$DANBIO_KC_IDENTITY_SECRET}"
# The gateway accepts tokens of this realm only; the web UI logs users in with it.
export GATEWAY_ISSUER="${GATEWAY_ISSUER:-$DANBIO_KEYCLOAK_URL/realms/$DANBIO_KEYCLOAK_REALM}"
export WEB_OIDC_ISSUER="${WEB_OIDC_ISSUER:-$GATEWAY_ISSUER}"

# Notifications: mail goes to the development mailbox (SMTP on 2525, read on :8025), SMS to a file.
export NOTIFICATIONS_DEV_MAILBOX="${NOTIFICATIONS_DEV_MAILBOX:-true}"
export NOTIFICATIONS_SMTP_HOST="${NOTIFICATIONS_SMTP_HOST:-127.0.0.1}"
export NOTIFICATIONS_SMTP_PORT="${NOTIFICATIONS_SMTP_PORT:-2525}"
export NOTIFICATIONS_SMTP_SECURITY="${NOTIFICATIONS_SMTP_SECURITY:-none}"
export NOTIFICATIONS_SMS_PROVIDER="${NOTIFICATIONS_SMS_PROVIDER:-outbox}"

keycloak_answers() { curl -fsS -o /dev/null --max-time 3 "$DANBIO_KEYCLOAK_URL/realms/master" 2>/dev/null; }

started_keycloak=0
keycloak_start_pid=""
honcho_pid=""
cleanup() {
  if [[ -n "$honcho_pid" ]]; then
    kill -TERM "$honcho_pid" 2>/dev/null || true
    wait "$honcho_pid" 2>/dev/null || true
  fi
  if [[ -n "$keycloak_start_pid" ]]; then wait "$keycloak_start_pid" 2>/dev/null || true; fi
  if ((started_keycloak)); then dev/servers/keycloak.sh stop || true; fi
}
trap cleanup EXIT

if ! keycloak_answers; then
  [[ "$DANBIO_KEYCLOAK_URL" =~ ^http://127\.0\.0\.1:([0-9]+)$ ]] ||
    { echo "run.sh: no Keycloak answers at $DANBIO_KEYCLOAK_URL" >&2; exit 1; }
  export DANBIO_KC_PORT="${BASH_REMATCH[1]}"
  echo "starting Keycloak on $DANBIO_KEYCLOAK_URL (log: $DANBIO_DATA_DIR/keycloak-start.log) ..."
  started_keycloak=1
  # In the background: it starts while the services migrate.
  DANBIO_KC_IMPORT_DIR="$PWD/deploy/keycloak" dev/servers/keycloak.sh start \
    >"$DANBIO_DATA_DIR/keycloak-start.log" 2>&1 &
  keycloak_start_pid=$!
fi

for service in identity patients notifications web; do  # web: its table of server-side sessions
  python -m "$service" migrate
done
python -m patients load-reference

if [[ -n "$keycloak_start_pid" ]]; then
  if ! wait "$keycloak_start_pid"; then
    keycloak_start_pid=""
    cat "$DANBIO_DATA_DIR/keycloak-start.log" >&2
    echo "run.sh: Keycloak did not start" >&2
    exit 1
  fi
  keycloak_start_pid=""
fi
# Keycloak imports the realm file only into a fresh Keycloak; this keeps an existing realm in step.
python dev/keycloak_realm.py ensure

honcho start -f Procfile &
honcho_pid=$!
trap 'exit 130' INT TERM

# The demo users need the departments, which reach identity through the workers just started.
if ! logins="$(python -m identity seed-demo --timeout 120)"; then
  echo "run.sh: could not create the demo users (see above); stopping" >&2
  exit 1
fi

cat <<MSG

  danbio is running (Ctrl-C stops everything):
    web UI          http://127.0.0.1:8000
    gateway         http://127.0.0.1:8080
    identity        http://127.0.0.1:8101/docs
    patients        http://127.0.0.1:8102/docs
    notifications   http://127.0.0.1:8103/docs
    mailbox         http://127.0.0.1:8025 (development e-mail and SMS)
    keycloak        ${DANBIO_KEYCLOAK_URL}/admin (realm ${DANBIO_KEYCLOAK_REALM}; dev/servers/keycloak.sh's admin: admin / admin)
  data: ${DANBIO_DATA_DIR}   broker: ${DANBIO_BROKER_URL:-embedded (SQLite)}

  ${logins//$'\n'/$'\n'  }

MSG
wait "$honcho_pid"
