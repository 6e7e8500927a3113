#!/usr/bin/env bash
# Builds crane (github.com/google/go-containerregistry's cmd/crane) from Go modules into a cache keyed
# by version, once. Prints the binary's path as its last line of stdout. build.sh runs it too, so that
# `npm run controlplane` leaves it ready. crane assembles and pushes OCI images and artifacts without a
# Docker daemon: `npm run image` (deploy/image/build.sh) and the chart's OCI publishing test use it.
#
#   ECR_OPERATOR_CACHE=/path   where to cache builds (default: ~/.cache/ecr-operator)
#
# Safe to run twice (a finished build is reused) and concurrently (a lock serialises builders).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
log() { printf 'controlplane: crane: %s\n' "$*" >&2; }
die() { printf 'controlplane: error: crane: %s\n' "$*" >&2; exit 1; }

[ -n "${GGCR_VERSION:-}" ] || die "versions.env names no GGCR_VERSION"
cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
key="crane-v${GGCR_VERSION}"
out="$cache_root/crane/$key"
if [ -x "$out/crane" ]; then printf '%s\n' "$out/crane"; exit 0; fi

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.24+ (https://go.dev/dl)"
command -v flock >/dev/null 2>&1 || die "flock is missing: install util-linux"

mkdir -p "$cache_root/crane"
exec 9>"$cache_root/crane/$key.lock"
flock 9
# Another builder may have finished while this one waited for the lock.
if [ -x "$out/crane" ]; then printf '%s\n' "$out/crane"; exit 0; fi

work=$(mktemp -d "$cache_root/crane/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=-buildvcs=false CGO_ENABLED=0
log "building $key (first run only)"
started=$(date +%s)
module=github.com/google/go-containerregistry
(
  cd "$work"
  go mod init ecr-operator.local/crane >/dev/null 2>&1 || exit 1
  # Naming the package (not just the module) records go.sum entries for everything it imports.
  go get "$module/cmd/crane@v$GGCR_VERSION" >&2 || exit 1
  # As go-containerregistry's release build: `crane version` names the release.
  go build -trimpath -ldflags "-s -w -X $module/cmd/crane/cmd.Version=v$GGCR_VERSION" -o "$work/crane" "$module/cmd/crane" || exit 1
) || die "building $key failed (see above)"

"$work/crane" version >&2
mkdir -p "$out"
mv "$work/crane" "$out/crane.tmp"
mv "$out/crane.tmp" "$out/crane"
log "built $key in $(( $(date +%s) - started ))s"
printf '%s\n' "$out/crane"
