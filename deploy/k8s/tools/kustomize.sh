#!/usr/bin/env bash
# Print the path of a kustomize binary of the pinned version, building it first if the cache does
# not have it yet (idempotent; safe to run from several test sessions at once).
#
# kustomize is built from its Go modules through the Go module proxy (`go install`), so it needs
# only Go (>= 1.26, what its go.mod names) — no prebuilt binary is downloaded. A cold build (modules
# and compile, 2 cores) took 80-110 s here; afterwards this prints the cached path in milliseconds.
#
# Environment:
#   DANBIO_CACHE_DIR  where the binary is kept (default $HOME/.cache/danbio), outside the work tree
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.2
CACHE="${DANBIO_CACHE_DIR:-$HOME/.cache/danbio}/kustomize/$KUSTOMIZE_VERSION"
BIN="$CACHE/kustomize"

if [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null || { echo "kustomize.sh: Go is needed to build kustomize $KUSTOMIZE_VERSION (go install)" >&2; exit 1; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if ! { [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; }; then
    build="$(mktemp -d "$CACHE/build.XXXXXX")"
    trap 'rm -rf "$build"' EXIT
    echo "kustomize.sh: building kustomize $KUSTOMIZE_VERSION with $(go version) ..." >&2
    # GOTOOLCHAIN=local: use this machine's Go, never fetch another toolchain.
    GOBIN="$build" GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw" \
        go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
    mv -f "$build/kustomize" "$BIN"
fi
echo "$BIN"
