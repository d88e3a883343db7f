# shellcheck shell=bash
# Shared helpers for dev/servers/*.sh and .ci/run. Source it; it has no side effects.
#
# Environment (all optional):
#   DANBIO_STATE_DIR   runtime state of the local servers   (default /var/tmp/danbio)
#   DANBIO_CACHE_DIR   downloads kept across runs            (default $HOME/.cache/danbio)
#   DANBIO_VERBOSE=1   print progress messages (default: quiet on success)

DANBIO_STATE_DIR="${DANBIO_STATE_DIR:-/var/tmp/danbio}"
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
DANBIO_CACHE_DIR="${DANBIO_CACHE_DIR:-$HOME/.cache/danbio}"

_danbio_prog="$(basename "${0:-danbio}")"

die() {
    printf '%s: error: %s\n' "$_danbio_prog" "$*" >&2
    exit 1
}

warn() {
    printf '%s: %s\n' "$_danbio_prog" "$*" >&2
}

log() {
    if [[ "${DANBIO_VERBOSE:-0}" == 1 ]]; then
        printf '%s: %s\n' "$_danbio_prog" "$*" >&2
    fi
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# svc_user NAME -> the OS user a service runs as: NAME when we are root, else ourselves.
svc_user() {
    if is_root; then printf '%s\n' "$1"; else id -un; fi
}

# as_user USER CMD... -> run CMD as USER (via runuser when root and USER differs).
as_user() {
    local user="$1"; shift
    if [[ "$user" == "$(id -un)" ]]; then
        "$@"
    elif is_root; then
        runuser -u "$user" -- "$@"
    else
        die "cannot run a command as '$user' without root"
    fi
}

# ensure_dir DIR OWNER MODE -> create DIR (and parents) owned by OWNER with MODE.
ensure_dir() {
    local dir="$1" owner="$2" mode="$3"
    mkdir -p -- "$dir"
    if is_root; then chown "$owner:$(id -gn "$owner")" "$dir"; fi
    chmod "$mode" "$dir"
}

# ensure_state_dir -> create the (world-traversable) state dir.
ensure_state_dir() {
    if [[ ! -d "$DANBIO_STATE_DIR" ]]; then
        mkdir -p -- "$DANBIO_STATE_DIR" || die "cannot create state dir $DANBIO_STATE_DIR"
        chmod 0755 "$DANBIO_STATE_DIR"
    fi
}

# check_traversable USER DIR -> fail clearly if USER cannot reach DIR (e.g. under /root).
check_traversable() {
    local user="$1" dir="$2"
    if ! as_user "$user" test -x "$dir"; then
        die "user '$user' cannot access $dir; choose a DANBIO_STATE_DIR whose parents are world-traversable (default /var/tmp/danbio)"
    fi
}

# with_lock NAME -> serialise concurrent invocations of the same script. The lock is held
# on fd 9 until the script exits: every long-lived process we spawn must get `9>&-`,
# or it would keep holding the lock after we exit.
with_lock() {
    ensure_state_dir
    mkdir -p -- "$DANBIO_STATE_DIR/.locks"
    exec 9>"$DANBIO_STATE_DIR/.locks/$1"
    if ! flock -w 300 9; then
        die "timed out waiting for lock $DANBIO_STATE_DIR/.locks/$1 (held by pid(s): $(fuser "$DANBIO_STATE_DIR/.locks/$1" 2>/dev/null || echo '?'))"
    fi
}

# port_open PORT [HOST] -> true if something accepts TCP connections there.
port_open() {
    local port="$1" host="${2:-127.0.0.1}"
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# pid_alive PIDFILE -> prints the pid and returns 0 if the process in PIDFILE is alive.
pid_alive() {
    local f="$1" pid
    [[ -r "$f" ]] || return 1
    pid="$(head -n1 "$f" 2>/dev/null | tr -dc '0-9')"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

deb_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# ensure_debs PKG... -> apt-get install the missing ones (apt-get update once first).
# Services are kept from auto-starting during the install (policy-rc.d), so a package's
# default instance (e.g. rabbit@host on 5672) does not grab our ports.
ensure_debs() {
    local missing=() p
    for p in "$@"; do
        deb_installed "$p" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if ! is_root; then
        die "missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})"
    fi
    warn "installing Debian packages: ${missing[*]}"
    local aptlog policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
    aptlog="$(mktemp /tmp/danbio-apt.XXXXXX.log)"
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\n# temporary, created by danbio dev/servers: do not start services on install\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        made_policy=1
    fi
    {
        if [[ "${DANBIO_APT_UPDATED:-0}" != 1 ]]; then
            apt-get update -q && export DANBIO_APT_UPDATED=1
        fi &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    } >"$aptlog" 2>&1 || rc=$?
    if ((made_policy)); then rm -f "$policy"; fi
    if ((rc != 0)); then
        tail -n 30 "$aptlog" >&2
        die "apt-get failed (exit $rc) installing: ${missing[*]} (full log: $aptlog)"
    fi
    rm -f "$aptlog"
}

# wait_until TIMEOUT_SECONDS CMD... -> poll CMD every 0.5 s until it succeeds.
wait_until() {
    local timeout="$1"; shift
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}
