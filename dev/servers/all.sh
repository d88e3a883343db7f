#!/usr/bin/env bash
# Start/stop the local servers the tests need: PostgreSQL + RabbitMQ (+ Keycloak when WITH_KEYCLOAK=1).
#
# Usage: all.sh {start|stop [--only-started]|status}
#   start                 install what is missing (one apt-get run), then start the servers that
#                         are not already running, in parallel; records which ones it started
#   stop                  stop all of them (postgres, rabbitmq, keycloak)
#   stop --only-started   stop only those that `all.sh start` started (used by `make test`, so a
#                         server a developer already had running is left alone)
#   status                print each server's status
#
# Environment: WITH_KEYCLOAK=1 to include Keycloak in `start`; everything the individual scripts
# read (DANBIO_STATE_DIR, ports, ...). The record is $DANBIO_STATE_DIR/all-started.
set -euo pipefail
# shellcheck source=dev/servers/_lib.sh
. "$(dirname "$(readlink -f "$0")")/_lib.sh"

HERE="$(dirname "$(readlink -f "$0")")"
STARTED_FILE="$DANBIO_STATE_DIR/all-started"
ALL_SERVICES=(postgres rabbitmq keycloak)

wanted_services() {
    echo postgres
    echo rabbitmq
    if [[ "${WITH_KEYCLOAK:-0}" == 1 ]]; then echo keycloak; fi
}

record_started() {
    grep -qxF "$1" "$STARTED_FILE" 2>/dev/null || echo "$1" >>"$STARTED_FILE"
}

cmd_start() {
    local services=() s
    mapfile -t services < <(wanted_services)
    # Packages first, in one apt-get run (the per-service scripts must not run apt concurrently).
    local debs=(postgresql rabbitmq-server)
    if [[ " ${services[*]} " == *" keycloak "* ]] && ! command -v mvn >/dev/null; then debs+=(maven); fi
    ensure_debs "${debs[@]}"

    local tmp pids=() names=() failed=()
    tmp="$(mktemp -d /tmp/danbio-all.XXXXXX)"
    for s in "${services[@]}"; do
        if "$HERE/$s.sh" status >/dev/null 2>&1; then
            log "$s already running; leaving it to whoever started it"
            continue
        fi
        record_started "$s"  # before starting: a half-started server is ours to stop too
        "$HERE/$s.sh" start >"$tmp/$s.out" 2>&1 9>&- &
        pids+=($!)
        names+=("$s")
    done
    local i
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            failed+=("${names[$i]}")
            cat "$tmp/${names[$i]}.out" >&2
        elif [[ -s "$tmp/${names[$i]}.out" ]]; then
            cat "$tmp/${names[$i]}.out" >&2
        fi
    done
    rm -rf -- "$tmp"
    ((${#failed[@]} == 0)) || die "could not start: ${failed[*]} (stop the rest with: $0 stop --only-started)"
}

cmd_stop() {
    local only_started=0 services=() s rc=0
    case "${1:-}" in
        "") ;;
        --only-started) only_started=1 ;;
        *) die "unknown option '$1' (usage: $0 stop [--only-started])" ;;
    esac
    if ((only_started)); then
        [[ -f "$STARTED_FILE" ]] || return 0
        mapfile -t services < <(tac "$STARTED_FILE")
    else
        services=(keycloak rabbitmq postgres)
    fi
    for s in "${services[@]}"; do
        [[ " ${ALL_SERVICES[*]} " == *" $s "* ]] || { warn "ignoring unknown service '$s' in $STARTED_FILE"; continue; }
        "$HERE/$s.sh" stop || { rc=1; warn "could not stop $s"; }
    done
    ((rc == 0)) && rm -f -- "$STARTED_FILE"
    return "$rc"
}

cmd_status() {
    local s
    for s in "${ALL_SERVICES[@]}"; do
        "$HERE/$s.sh" status || true
    done
}

usage() { sed -n '4,11s/^# \{0,1\}//p' "$0" >&2; exit 2; }

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        start) [[ $# -eq 0 ]] || usage; with_lock all; cmd_start ;;
        stop) with_lock all; cmd_stop "$@" ;;
        status) cmd_status ;;
        *) usage ;;
    esac
}

main "$@"
