#!/usr/bin/env bash
# Fetches the Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule) from its Go module
# (github.com/prometheus-operator/prometheus-operator, example/prometheus-operator-crd/) into a cache
# keyed by version, once, so the chart's monitoring objects can be applied to the test apiserver and
# validated against the real schemas. Prints the folder holding the CRD files as its last stdout line.
#
#   ECR_OPERATOR_CACHE=/path   where to cache them (default: ~/.cache/ecr-operator)
#
# Safe to run twice (a finished fetch is reused) and concurrently (a lock serialises fetchers).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
log() { printf 'controlplane: prometheus-operator-crds: %s\n' "$*" >&2; }
die() { printf 'controlplane: error: prometheus-operator-crds: %s\n' "$*" >&2; exit 1; }

kinds=(servicemonitors podmonitors prometheusrules)
cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
key="prometheus-operator-v${PROMETHEUS_OPERATOR_VERSION}"
out="$cache_root/prometheus-operator-crds/$key"
has_all() { local kind; for kind in "${kinds[@]}"; do [ -s "$out/monitoring.coreos.com_$kind.yaml" ] || return 1; done; }
if has_all; then printf '%s\n' "$out"; exit 0; fi

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.24+ (https://go.dev/dl)"
command -v flock >/dev/null 2>&1 || die "flock is missing: install util-linux"

mkdir -p "$cache_root/prometheus-operator-crds"
exec 9>"$cache_root/prometheus-operator-crds/$key.lock"
flock 9
if has_all; then printf '%s\n' "$out"; exit 0; fi

module=github.com/prometheus-operator/prometheus-operator
log "fetching $module@v$PROMETHEUS_OPERATOR_VERSION (first run only)"
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=
# Outside any module, `go mod download` fetches (and checks against the checksum database) one module's zip.
dir=$(cd / && go mod download -json "$module@v$PROMETHEUS_OPERATOR_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -n "$dir" ] && [ -d "$dir/example/prometheus-operator-crd" ] || die "$module@v$PROMETHEUS_OPERATOR_VERSION has no example/prometheus-operator-crd/"

work=$(mktemp -d "$cache_root/prometheus-operator-crds/.fetch-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
for kind in "${kinds[@]}"; do
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$work/" || die "the module lacks monitoring.coreos.com_$kind.yaml"
done
chmod 755 "$work"; chmod 644 "$work"/*.yaml
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
log "cached ${kinds[*]} CRDs in $out"
printf '%s\n' "$out"
