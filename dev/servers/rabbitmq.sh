#!/usr/bin/env bash
# Private RabbitMQ node for danbio development and tests (no systemd, not Debian's default node).
#
# Usage: rabbitmq.sh {install|start|stop|status|url|ctl ARGS...}
#   install  apt-get install rabbitmq-server if missing (without starting Debian's own node)
#   start    install if needed, start the node in the background, wait until it has booted;
#            no-op if something already accepts connections on the AMQP port
#   stop     stop the node cleanly (and epmd, if this script started it); no-op if not running
#   status   print state; exit 0 if running, 3 if not
#   url      print the AMQP URL: amqp://danbio:danbio@127.0.0.1:PORT//
#   ctl      run rabbitmqctl against the node, e.g. `rabbitmq.sh ctl list_queues`
#
# Environment: DANBIO_STATE_DIR (default /var/tmp/danbio; the node lives in $DANBIO_STATE_DIR/rabbitmq),
#   DANBIO_AMQP_PORT (default 5672), DANBIO_RABBITMQ_NODENAME (default danbio@localhost on port
#   5672, danbio-PORT@localhost on any other port, so that two instances never clash),
#   DANBIO_RABBITMQ_DIST_PORT (default AMQP port + 20000), DANBIO_RABBITMQ_START_TIMEOUT (default 120 s).
# Everything listens on 127.0.0.1 only. User danbio/danbio (administrator, all permissions on
# vhost /) is created when the node's database is first initialised; no guest user, no plugins.
# To reset the node: stop it and remove $DANBIO_STATE_DIR/rabbitmq.
set -euo pipefail
# shellcheck source=dev/servers/_lib.sh
. "$(dirname "$(readlink -f "$0")")/_lib.sh"

AMQP_PORT="${DANBIO_AMQP_PORT:-5672}"
[[ "$AMQP_PORT" =~ ^[0-9]+$ ]] || die "DANBIO_AMQP_PORT must be a number, got '$AMQP_PORT'"
# Node names must be unique per host (epmd): danbio@localhost on the default port, else danbio-PORT@localhost.
if [[ "$AMQP_PORT" == 5672 ]]; then NODE=danbio@localhost; else NODE="danbio-$AMQP_PORT@localhost"; fi
NODE="${DANBIO_RABBITMQ_NODENAME:-$NODE}"
DIST_PORT="${DANBIO_RABBITMQ_DIST_PORT:-$((AMQP_PORT + 20000))}"
TIMEOUT="${DANBIO_RABBITMQ_START_TIMEOUT:-120}"
RMQ_USER=danbio
RMQ_PASSWORD=danbio
RMQ_DIR="$DANBIO_STATE_DIR/rabbitmq"
RMQ_LOGS="$RMQ_DIR/log"
RMQ_PIDFILE="$RMQ_DIR/rabbitmq.pid"
EPMD_MARK="$RMQ_DIR/epmd-started-by-us"
RMQ_BIN=/usr/lib/rabbitmq/bin
OS_USER="$(svc_user rabbitmq)"

# Environment shared by the server and the CLI tools (same HOME => same Erlang cookie).
RMQ_ENV=(
    HOME="$RMQ_DIR"
    RABBITMQ_NODENAME="$NODE"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT="$AMQP_PORT"
    RABBITMQ_DIST_PORT="$DIST_PORT"
    RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
    RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
    RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
    RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
    RABBITMQ_LOG_BASE="$RMQ_LOGS"
    RABBITMQ_PID_FILE="$RMQ_PIDFILE"
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    ERL_EPMD_ADDRESS=127.0.0.1
    ERL_CRASH_DUMP="$RMQ_LOGS/erl_crash.dump"
)

as_rmq() { as_user "$OS_USER" env "${RMQ_ENV[@]}" "$@"; }

# ctl ARGS... -> rabbitmqctl against our node (fd 9 closed: it may spawn epmd).
ctl() { as_rmq "$RMQ_BIN/rabbitmqctl" -n "$NODE" "$@" 9>&-; }

cmd_install() {
    ensure_debs rabbitmq-server
    [[ -x "$RMQ_BIN/rabbitmq-server" ]] || die "$RMQ_BIN/rabbitmq-server not found although rabbitmq-server is installed"
}

# node_pid -> pid of our node's Erlang VM, if it is alive.
node_pid() {
    local pid
    pid="$(pid_alive "$RMQ_PIDFILE")" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'beam' || return 1
    printf '%s\n' "$pid"
}

amqp_open() { port_open "$AMQP_PORT"; }

epmd_running() { epmd -names >/dev/null 2>&1; }

write_config() {
    ensure_dir "$RMQ_DIR" "$OS_USER" 0755
    check_traversable "$OS_USER" "$RMQ_DIR"
    ensure_dir "$RMQ_LOGS" "$OS_USER" 0755
    local cookie="$RMQ_DIR/.erlang.cookie"
    if [[ ! -s "$cookie" ]]; then
        head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr '0-9a-f' 'A-P' >"$cookie"
    fi
    if is_root; then chown "$OS_USER" "$cookie"; fi
    chmod 0400 "$cookie"
    : >"$RMQ_DIR/rabbitmq-env.conf"
    echo '[].' >"$RMQ_DIR/enabled_plugins"
    cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# Written by dev/servers/rabbitmq.sh on every start; edits are lost.
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
# Applied when the node's database is first initialised:
default_vhost = /
default_user = $RMQ_USER
default_pass = $RMQ_PASSWORD
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.console = false
log.file.level = info
disk_free_limit.absolute = 50MB
EOF
}

cmd_start() {
    if amqp_open; then
        node_pid >/dev/null || warn "port $AMQP_PORT already accepts connections (not node $NODE of $RMQ_DIR); leaving it alone"
        return 0
    fi
    cmd_install
    ensure_state_dir
    if ! node_pid >/dev/null; then
        write_config
        if epmd_running; then rm -f "$EPMD_MARK"; else : >"$EPMD_MARK"; fi
        rm -f "$RMQ_PIDFILE"
        log "starting RabbitMQ node $NODE on 127.0.0.1:$AMQP_PORT"
        local runas=()
        if is_root; then runas=(runuser -u "$OS_USER" --); fi
        (cd "$RMQ_DIR" && exec setsid "${runas[@]}" env "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server") \
            >>"$RMQ_LOGS/startup.log" 2>&1 </dev/null 9>&- &
        local launcher=$!
        local deadline=$((SECONDS + TIMEOUT))
        until ctl -q await_startup --timeout 10 >/dev/null 2>&1; do
            if ! kill -0 "$launcher" 2>/dev/null; then
                tail -n 40 "$RMQ_LOGS/startup.log" "$RMQ_LOGS/$NODE.log" >&2 2>/dev/null || true
                die "RabbitMQ node $NODE exited during startup (logs: $RMQ_LOGS)"
            fi
            if ((SECONDS >= deadline)); then
                tail -n 40 "$RMQ_LOGS/startup.log" "$RMQ_LOGS/$NODE.log" >&2 2>/dev/null || true
                cmd_stop || true
                die "RabbitMQ node $NODE not ready after ${TIMEOUT}s (logs: $RMQ_LOGS)"
            fi
            sleep 1
        done
    else
        ctl -q await_startup --timeout "$TIMEOUT" >/dev/null ||
            die "RabbitMQ node $NODE (pid $(node_pid)) is running but did not finish booting (logs: $RMQ_LOGS)"
    fi
    wait_until 30 amqp_open || die "RabbitMQ node $NODE is up but 127.0.0.1:$AMQP_PORT does not accept connections"
}

cmd_stop() {
    local pid
    if pid="$(node_pid)"; then
        log "stopping RabbitMQ node $NODE (pid $pid)"
        # `stop PIDFILE` returns once the Erlang VM has exited.
        if ! ctl -q stop "$RMQ_PIDFILE" >/dev/null 2>&1; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
        if ! wait_until 60 eval '! kill -0 '"$pid"' 2>/dev/null'; then
            warn "RabbitMQ node $NODE (pid $pid) did not stop; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$RMQ_PIDFILE"
    fi
    if [[ -e "$EPMD_MARK" ]]; then
        # epmd refuses -kill while any node is still registered: it only goes away if unused.
        if epmd_running && [[ -z "$(epmd -names 2>/dev/null | sed -n '2,$p')" ]]; then
            epmd -kill >/dev/null 2>&1 || true
        fi
        rm -f "$EPMD_MARK"
    fi
}

cmd_status() {
    local pid
    if pid="$(node_pid)" && amqp_open; then
        echo "rabbitmq: running, node $NODE (pid $pid), amqp 127.0.0.1:$AMQP_PORT"
    elif [[ -n "${pid:-}" ]]; then
        echo "rabbitmq: node $NODE (pid $pid) is running but 127.0.0.1:$AMQP_PORT is not accepting connections"
        return 3
    elif amqp_open; then
        echo "rabbitmq: something else accepts connections on 127.0.0.1:$AMQP_PORT (not node $NODE)"
    else
        echo "rabbitmq: stopped"
        return 3
    fi
}

cmd_url() {
    echo "amqp://$RMQ_USER:$RMQ_PASSWORD@127.0.0.1:$AMQP_PORT//"
}

usage() { sed -n '4,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        install) with_lock rabbitmq; cmd_install ;;
        start) with_lock rabbitmq; cmd_start ;;
        stop) with_lock rabbitmq; cmd_stop ;;
        status) cmd_status ;;
        url) cmd_url ;;
        ctl) ctl "$@" ;;
        *) usage ;;
    esac
}

main "$@"
