#!/usr/bin/env bash
# Builds helm (helm.sh/helm/v3's cmd/helm) from Go modules into a cache keyed by version, once.
# Prints the binary's path as its last line of stdout. build.sh runs it too, so that
# `npm run controlplane` leaves it ready.
#
#   ECR_OPERATOR_CACHE=/path   where to cache builds (default: ~/.cache/ecr-operator)
#
# Safe to run twice (a finished build is reused) and concurrently (a lock serialises builders).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
log() { printf 'controlplane: helm: %s\n' "$*" >&2; }
die() { printf 'controlplane: error: helm: %s\n' "$*" >&2; exit 1; }

cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
key="helm-v${HELM_VERSION}"
out="$cache_root/helm/$key"
if [ -x "$out/helm" ]; then printf '%s\n' "$out/helm"; exit 0; fi

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.24+ (https://go.dev/dl)"
command -v flock >/dev/null 2>&1 || die "flock is missing: install util-linux"

mkdir -p "$cache_root/helm"
exec 9>"$cache_root/helm/$key.lock"
flock 9
# Another builder may have finished while this one waited for the lock.
if [ -x "$out/helm" ]; then printf '%s\n' "$out/helm"; exit 0; fi

work=$(mktemp -d "$cache_root/helm/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=-buildvcs=false CGO_ENABLED=0
log "building $key (first run only)"
started=$(date +%s)
major=${HELM_VERSION%%.*}
module="helm.sh/helm/v$major"
(
  cd "$work"
  go mod init ecr-operator.local/helm >/dev/null 2>&1 || exit 1
  # Naming the package (not just the module) records go.sum entries for everything it imports.
  go get "$module/cmd/helm@v$HELM_VERSION" >&2 || exit 1
  # As helm's Makefile: `helm version` names the release, and .Capabilities.KubeVersion defaults
  # to the client-go line helm was built with (not 1.20) when `helm template` has no cluster.
  client_go=$(go list -m -f '{{.Version}}' k8s.io/client-go) || exit 1
  minor=${client_go#v0.}; minor=${minor%%.*}
  ldflags="-s -w -X $module/internal/version.version=v$HELM_VERSION"
  for pkg in pkg/chartutil pkg/lint/rules; do
    ldflags+=" -X $module/$pkg.k8sVersionMajor=1 -X $module/$pkg.k8sVersionMinor=$minor"
  done
  ldflags+=" -X $module/internal/version.gitTreeState=clean"
  go build -ldflags "$ldflags" -o "$work/helm" "$module/cmd/helm" || exit 1
) || die "building $key failed (see above)"

"$work/helm" version --short >&2
mkdir -p "$out"
mv "$work/helm" "$out/helm.tmp"
mv "$out/helm.tmp" "$out/helm"
log "built $key in $(( $(date +%s) - started ))s"
printf '%s\n' "$out/helm"
