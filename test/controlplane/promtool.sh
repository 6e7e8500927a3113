#!/usr/bin/env bash
# Builds promtool (github.com/prometheus/prometheus's cmd/promtool) from Go modules into a cache keyed
# by version, once. Prints the binary's path as its last line of stdout. build.sh runs it too, so that
# `npm run controlplane` leaves it ready. The chart's PrometheusRule is checked with
# `promtool check rules` and its alerts tested with `promtool test rules`.
#
#   ECR_OPERATOR_CACHE=/path   where to cache builds (default: ~/.cache/ecr-operator)
#
# Safe to run twice (a finished build is reused) and concurrently (a lock serialises builders).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
log() { printf 'controlplane: promtool: %s\n' "$*" >&2; }
die() { printf 'controlplane: error: promtool: %s\n' "$*" >&2; exit 1; }

cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
key="prometheus-v${PROMETHEUS_VERSION}"
out="$cache_root/promtool/$key"
if [ -x "$out/promtool" ]; then printf '%s\n' "$out/promtool"; exit 0; fi

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.26+ (https://go.dev/dl)"
command -v flock >/dev/null 2>&1 || die "flock is missing: install util-linux"

mkdir -p "$cache_root/promtool"
exec 9>"$cache_root/promtool/$key.lock"
flock 9
# Another builder may have finished while this one waited for the lock.
if [ -x "$out/promtool" ]; then printf '%s\n' "$out/promtool"; exit 0; fi

work=$(mktemp -d "$cache_root/promtool/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=-buildvcs=false CGO_ENABLED=0
log "building $key (first run only)"
started=$(date +%s)
module=github.com/prometheus/prometheus
(
  cd "$work"
  go mod init ecr-operator.local/promtool >/dev/null 2>&1 || exit 1
  # Naming the package (not just the module) records go.sum entries for everything it imports.
  go get "$module/cmd/promtool@v$PROMETHEUS_VERSION" >&2 || exit 1
  # remove_all_sd drops the service discovery plugins (AWS, Azure, GCE, Consul, ...; plugins/*.go)
  # that rule checks and tests never use; netgo is Prometheus's own release tag (.promu.yml).
  ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"
  go build -tags "netgo remove_all_sd" -ldflags "$ldflags" -o "$work/promtool" "$module/cmd/promtool" || exit 1
) || die "building $key failed (see above)"

"$work/promtool" --version >&2
mkdir -p "$out"
mv "$work/promtool" "$out/promtool.tmp"
mv "$out/promtool.tmp" "$out/promtool"
log "built $key in $(( $(date +%s) - started ))s"
printf '%s\n' "$out/promtool"
