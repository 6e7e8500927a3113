#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from Go modules into a cache keyed by version, once, for
# the control planes pinned in versions.env (CONTROL_PLANES).
#
#   build.sh             the first (default) control plane; prints its bin folder as the last stdout line
#   build.sh 1.37.2      that Kubernetes version's control plane (it must be in CONTROL_PLANES)
#   build.sh --all       every control plane, oldest first; prints each bin folder
#
# Every form first builds the test world's tools (TOOLS below: statuscheck.sh, helm.sh, ...), each
# with its own cache key; their paths go to stderr, so the last stdout line stays the control plane's.
#
#   KUBEBUILDER_ASSETS=/path   use binaries that are already there (as envtest users have)
#   ECR_OPERATOR_CACHE=/path   where to cache builds (default: ~/.cache/ecr-operator)
#
# Safe to run twice (a finished build is reused) and concurrently (a lock serialises builders).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
TOOLS=(statuscheck helm crane promtool)
binaries=(kube-apiserver etcd kubectl)
log() { printf 'controlplane: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

has_all() { local d=$1 b; for b in "${binaries[@]}"; do [ -x "$d/$b" ] || return 1; done; }
build_tools() {
  local tool
  for tool in "${TOOLS[@]}"; do bash "$here/$tool.sh" >&2 || die "building $tool failed (see above)"; done
}

# Which control planes: "kubernetes/etcd" pairs from CONTROL_PLANES.
read -r -a planes <<<"$CONTROL_PLANES"
[ "${#planes[@]}" -gt 0 ] || die "versions.env names no CONTROL_PLANES"
case "${1:-}" in
  --all) selected=("${planes[@]}") ;;
  "") selected=("${planes[0]}") ;;
  *)
    selected=()
    for plane in "${planes[@]}"; do [ "${plane%%/*}" = "$1" ] && selected=("$plane"); done
    [ "${#selected[@]}" -eq 1 ] || die "Kubernetes $1 is not one of the pinned control planes: $CONTROL_PLANES (test/controlplane/versions.env)"
    ;;
esac

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  has_all "$KUBEBUILDER_ASSETS" || die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${binaries[*]}"
  if command -v go >/dev/null 2>&1; then build_tools; else log "Go is not installed: the test world's tools (${TOOLS[*]}) are not built"; fi
  printf '%s\n' "$KUBEBUILDER_ASSETS"; exit 0
fi
build_tools

# Builds one control plane (in a subshell, so its traps and variables stay its own) and prints its folder.
build_plane() (
KUBERNETES_VERSION=${1%%/*}
ETCD_VERSION=${1#*/}
cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
key="k8s-v${KUBERNETES_VERSION}-etcd-v${ETCD_VERSION}"
out="$cache_root/controlplane/$key"
if has_all "$out/bin"; then printf '%s\n' "$out/bin"; exit 0; fi

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.26+ (https://go.dev/dl) or set KUBEBUILDER_ASSETS to a folder with ${binaries[*]}"
command -v flock >/dev/null 2>&1 || die "flock is missing: install util-linux"

mkdir -p "$cache_root/controlplane"
exec 9>"$cache_root/controlplane/$key.lock"
flock 9
# Another builder may have finished while this one waited for the lock.
if has_all "$out/bin"; then printf '%s\n' "$out/bin"; exit 0; fi

work=$(mktemp -d "$cache_root/controlplane/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=-buildvcs=false CGO_ENABLED=0
log "building $key (first run only; about 15 minutes on 2 cores)"
started=$(date +%s)

# Inside `( ... ) || die` bash ignores set -e, so each step in those subshells ends in `|| exit 1`.

# --- kube-apiserver and kubectl, from k8s.io/kubernetes ------------------------------------
# k8s.io/kubernetes replaces its staging modules with local folders, and a dependency's
# replace lines do not apply to us: map each one to its published k8s.io/<name> v0.<minor>.<patch>.
kmod="$work/kubernetes"; mkdir -p "$kmod"
staging_version="v0.${KUBERNETES_VERSION#*.}"
(
  cd "$kmod"
  go mod init ecr-operator.local/controlplane/kubernetes >/dev/null 2>&1 || exit 1
  gomod_file=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod_file" ] || die "could not fetch k8s.io/kubernetes@v$KUBERNETES_VERSION through the Go module proxy"
  staged=$(sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod_file")
  [ -n "$staged" ] || die "found no staging modules in k8s.io/kubernetes@v$KUBERNETES_VERSION's go.mod"
  for m in $staged; do go mod edit -replace "$m=$m@$staging_version" || exit 1; done
  # Naming the packages (not just the module) records go.sum entries for everything they import.
  go get "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$KUBERNETES_VERSION" >&2 || exit 1
) || die "resolving k8s.io/kubernetes v$KUBERNETES_VERSION failed (see above)"

ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v$KUBERNETES_VERSION -X $pkg.gitMajor=${KUBERNETES_VERSION%%.*}"
  minor=${KUBERNETES_VERSION#*.}; minor=${minor%%.*}
  ldflags+=" -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done
mkdir -p "$work/bin"
log "compiling kube-apiserver and kubectl v$KUBERNETES_VERSION"
(cd "$kmod" && go build -ldflags "$ldflags" -o "$work/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) \
  || die "building kube-apiserver/kubectl failed (see above)"

# --- etcd, in a module of its own so its dependency versions don't clash with Kubernetes' ----
emod="$work/etcd"; mkdir -p "$emod"; cp "$here/etcd/main.go" "$emod/"
log "compiling etcd v$ETCD_VERSION"
(
  cd "$emod"
  go mod init ecr-operator.local/controlplane/etcd >/dev/null 2>&1 || exit 1
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2 || exit 1
  go mod tidy >&2 || exit 1
  go build -ldflags "-s -w" -o "$work/bin/etcd" .
) || die "building etcd v$ETCD_VERSION failed (see above)"

"$work/bin/kube-apiserver" --version >&2
rm -rf "$out"; mkdir -p "$out"
mv "$work/bin" "$out/bin"
log "built $key in $(( $(date +%s) - started ))s into $out/bin"
printf '%s\n' "$out/bin"
)

for plane in "${selected[@]}"; do build_plane "$plane"; done
