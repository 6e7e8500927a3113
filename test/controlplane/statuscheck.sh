#!/usr/bin/env bash
# Builds test/tools/statuscheck (kstatus from sigs.k8s.io/cli-utils, Argo CD-style Lua health
# checks with gopher-lua) from Go modules into a cache keyed by versions and source, once.
# Prints the binary's path as its last line of stdout. build.sh runs it too, so that
# `npm run controlplane` leaves both ready.
#
#   ECR_OPERATOR_CACHE=/path   where to cache builds (default: ~/.cache/ecr-operator)
#
# Safe to run twice (a finished build is reused) and concurrently (a lock serialises builders).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
src="$here/../tools/statuscheck/main.go"
log() { printf 'controlplane: statuscheck: %s\n' "$*" >&2; }
die() { printf 'controlplane: error: statuscheck: %s\n' "$*" >&2; exit 1; }

[ -f "$src" ] || die "missing $src"
cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
# The source's hash is part of the key, so an edited main.go builds anew instead of reusing a stale binary.
source_hash=$(sha256sum "$src" | cut -c1-12)
key="cli-utils-v${CLI_UTILS_VERSION}-gopher-lua-v${GOPHER_LUA_VERSION}-${source_hash}"
out="$cache_root/statuscheck/$key"
if [ -x "$out/statuscheck" ]; then printf '%s\n' "$out/statuscheck"; exit 0; fi

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.24+ (https://go.dev/dl)"
command -v flock >/dev/null 2>&1 || die "flock is missing: install util-linux"

mkdir -p "$cache_root/statuscheck"
exec 9>"$cache_root/statuscheck/$key.lock"
flock 9
# Another builder may have finished while this one waited for the lock.
if [ -x "$out/statuscheck" ]; then printf '%s\n' "$out/statuscheck"; exit 0; fi

work=$(mktemp -d "$cache_root/statuscheck/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=-buildvcs=false CGO_ENABLED=0
log "building $key"
started=$(date +%s)
cp "$src" "$work/main.go"
(
  cd "$work"
  go mod init ecr-operator.local/statuscheck >/dev/null 2>&1 || exit 1
  go get "sigs.k8s.io/cli-utils@v$CLI_UTILS_VERSION" "github.com/yuin/gopher-lua@v$GOPHER_LUA_VERSION" >&2 || exit 1
  go mod tidy >&2 || exit 1
  go build -ldflags "-s -w" -o "$work/statuscheck" . || exit 1
) || die "building $key failed (see above)"

mkdir -p "$out"
mv "$work/statuscheck" "$out/statuscheck.tmp"
mv "$out/statuscheck.tmp" "$out/statuscheck"
log "built $key in $(( $(date +%s) - started ))s"
printf '%s\n' "$out/statuscheck"
