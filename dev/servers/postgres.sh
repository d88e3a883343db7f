#!/usr/bin/env bash
# Private PostgreSQL cluster for danbio development and tests (not Debian's default cluster).
#
# Usage: postgres.sh {install|start|stop|status|url|psql [ARGS...]}
#   install  apt-get install postgresql if missing
#   start    install if needed, create the cluster on first use, start it, wait until it
#            accepts connections; no-op if something already accepts connections on the port
#   stop     stop this cluster (fast shutdown); no-op if it is not running
#   status   print state; exit 0 if running, 3 if not
#   url      print the SQLAlchemy URL: postgresql+psycopg://danbio:danbio@127.0.0.1:PORT/postgres
#   psql     run psql against the cluster as danbio
#
# Environment: DANBIO_STATE_DIR (default /var/tmp/danbio; the cluster lives in $DANBIO_STATE_DIR/pg),
#              DANBIO_PG_PORT (default 55432), DANBIO_PG_START_TIMEOUT (default 60 s).
# The cluster listens on 127.0.0.1 only (TCP: scram-sha-256 password auth; the unix socket
# in $DANBIO_STATE_DIR/pg/run: trust). Superuser: danbio / danbio.
set -euo pipefail
# shellcheck source=dev/servers/_lib.sh
. "$(dirname "$(readlink -f "$0")")/_lib.sh"

PG_PORT="${DANBIO_PG_PORT:-55432}"
PG_TIMEOUT="${DANBIO_PG_START_TIMEOUT:-60}"
PG_USER=danbio
PG_PASSWORD=danbio
PG_DIR="$DANBIO_STATE_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
OS_USER="$(svc_user postgres)"

[[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "DANBIO_PG_PORT must be a number, got '$PG_PORT'"

# pg_bin -> bin dir of the PostgreSQL matching an existing cluster, else the newest installed.
pg_bin() {
    local bin
    if [[ -r "$PG_DATA/PG_VERSION" ]]; then
        bin="/usr/lib/postgresql/$(cat "$PG_DATA/PG_VERSION")/bin"
        [[ -x "$bin/postgres" ]] ||
            die "cluster $PG_DATA is PostgreSQL $(cat "$PG_DATA/PG_VERSION") but $bin/postgres is missing (remove $PG_DIR to recreate it)"
    else
        bin="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)"
        [[ -n "$bin" && -x "$bin/initdb" ]] || die "no PostgreSQL server found under /usr/lib/postgresql (run: $0 install)"
    fi
    printf '%s\n' "$bin"
}

cmd_install() {
    ensure_debs postgresql
    pg_bin >/dev/null
}

accepting() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

# ours_running -> true if the postmaster of our data dir is alive.
ours_running() {
    [[ -d "$PG_DATA" ]] && as_user "$OS_USER" "$(pg_bin)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

init_cluster() {
    [[ -r "$PG_DATA/PG_VERSION" ]] && return 0
    local bin pwfile
    bin="$(pg_bin)"
    ensure_dir "$PG_DIR" "$OS_USER" 0755
    check_traversable "$OS_USER" "$PG_DIR"
    rm -rf -- "$PG_DATA"  # a half-made data dir from an interrupted initdb
    pwfile="$PG_DIR/.pwfile"
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    if is_root; then chown "$OS_USER" "$pwfile"; fi
    chmod 0600 "$pwfile"
    log "initdb $PG_DATA"
    if ! as_user "$OS_USER" "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" \
        -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
        >"$PG_DIR/initdb.log" 2>&1; then
        rm -f "$pwfile"
        cat "$PG_DIR/initdb.log" >&2
        rm -rf -- "$PG_DATA"
        die "initdb failed"
    fi
    rm -f "$pwfile"
    printf "\n# danbio: settings written by dev/servers/postgres.sh on every start\ninclude_if_exists = 'danbio.conf'\n" \
        >>"$PG_DATA/postgresql.conf"
}

write_config() {
    as_user "$OS_USER" tee "$PG_DATA/danbio.conf" >/dev/null <<EOF
# Written by dev/servers/postgres.sh on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    as_user "$OS_USER" tee "$PG_DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by dev/servers/postgres.sh on every start; edits are lost.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
EOF
}

# running_port -> the port our running postmaster listens on (from postmaster.pid).
running_port() { as_user "$OS_USER" sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null; }

cmd_start() {
    if ours_running; then
        local p
        p="$(running_port)"
        [[ -z "$p" || "$p" == "$PG_PORT" ]] ||
            die "cluster $PG_DATA is already running on port $p, not $PG_PORT; stop it first (DANBIO_PG_PORT=$p $0 stop)"
    fi
    if accepting; then
        ours_running || warn "port $PG_PORT already accepts connections (not this cluster: $PG_DATA); leaving it alone"
        return 0
    fi
    cmd_install
    ensure_state_dir
    init_cluster
    ensure_dir "$PG_SOCK" "$OS_USER" 0755
    if ours_running; then
        # Running but not accepting yet (starting up / recovering): just wait below.
        :
    else
        if port_open "$PG_PORT"; then
            die "port $PG_PORT on 127.0.0.1 is in use by something that is not PostgreSQL; set DANBIO_PG_PORT"
        fi
        write_config
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        if ! as_user "$OS_USER" "$(pg_bin)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -s -w -t "$PG_TIMEOUT" start >/dev/null 2>&1 9>&-; then
            tail -n 30 "$PG_LOG" >&2 || true
            die "PostgreSQL did not start (log: $PG_LOG)"
        fi
    fi
    if ! wait_until "$PG_TIMEOUT" accepting; then
        tail -n 30 "$PG_LOG" >&2 || true
        die "PostgreSQL on 127.0.0.1:$PG_PORT not accepting connections after ${PG_TIMEOUT}s (log: $PG_LOG)"
    fi
}

cmd_stop() {
    ours_running || return 0
    log "stopping PostgreSQL ($PG_DATA)"
    if ! as_user "$OS_USER" "$(pg_bin)/pg_ctl" -D "$PG_DATA" -s -m fast -w -t 60 stop; then
        tail -n 20 "$PG_LOG" >&2 || true
        die "PostgreSQL did not stop (log: $PG_LOG)"
    fi
}

cmd_status() {
    if ours_running && accepting; then
        echo "postgres: running on 127.0.0.1:$PG_PORT (pid $(as_user "$OS_USER" head -n1 "$PG_DATA/postmaster.pid"), data $PG_DATA)"
    elif ours_running; then
        echo "postgres: cluster $PG_DATA is running (port $(running_port)) but not accepting connections on 127.0.0.1:$PG_PORT"
        return 3
    elif accepting; then
        echo "postgres: another server accepts connections on 127.0.0.1:$PG_PORT (not $PG_DATA)"
    else
        echo "postgres: stopped"
        return 3
    fi
}

cmd_url() {
    echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
}

cmd_psql() {
    PGPASSWORD="$PG_PASSWORD" exec psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"
}

usage() { sed -n '4,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        install) with_lock postgres; cmd_install ;;
        start) with_lock postgres; cmd_start ;;
        stop) with_lock postgres; cmd_stop ;;
        status) cmd_status ;;
        url) cmd_url ;;
        psql) cmd_psql "$@" ;;
        *) usage ;;
    esac
}

main "$@"
