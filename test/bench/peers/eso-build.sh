#!/usr/bin/env bash
# Builds External Secrets Operator's controller (the `external-secrets` binary, ESO's main package) for
# the bench's side-by-side scenario (BENCH_PEERS=eso), into a cache keyed by version and build tags, once.
# Prints the binary's path as its last line of stdout. Off by default: build.sh does not build it.
#
# By default it builds github.com/external-secrets/external-secrets at v$ESO_VERSION (versions.env) from
# the Go module proxy: the release's own go.mod and go.sum (with its replace lines), as its Makefile
# builds it. ESO v0.16.2 has no provider build tags: every provider and generator is compiled in, as in
# the image users run.
#
#   ESO_SOURCE_DIR=/path       build a full ESO source tree instead (newer releases keep providers and
#                              generators in submodules the proxy does not serve); keyed by its
#                              `git describe` or, outside git, a hash of its go.mod, go.sum and sources
#   ESO_BUILD_TAGS=a,b         Go build tags (default: none for the proxy release; for ESO_SOURCE_DIR
#                              "aws": releases with provider tags then compile in only the AWS provider)
#   ECR_OPERATOR_CACHE=/path   where to cache builds (default: ~/.cache/ecr-operator)
#
# Safe to run twice (a finished build is reused) and concurrently (a lock serialises builders).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../controlplane/versions.env
source "$here/../../controlplane/versions.env"
log() { printf 'controlplane: eso: %s\n' "$*" >&2; }
die() { printf 'controlplane: error: eso: %s\n' "$*" >&2; exit 1; }

module=github.com/external-secrets/external-secrets
source_dir=${ESO_SOURCE_DIR:-}
if [ -n "$source_dir" ]; then
  [ -f "$source_dir/go.mod" ] || die "ESO_SOURCE_DIR=$source_dir has no go.mod"
  grep -q "^module $module\$" "$source_dir/go.mod" || die "ESO_SOURCE_DIR=$source_dir is not $module"
  tags=${ESO_BUILD_TAGS-aws}
  tree_hash() { (cd "$source_dir" && find . \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-16); }
  # A release tag (or commit) names a clean tree; a tree with local changes, or outside git, is keyed by its sources.
  if version=$(git -C "$source_dir" describe --tags --always --dirty 2>/dev/null); then
    case $version in *-dirty) version="$version-$(tree_hash)" ;; esac
    version=${version//\//-}
  else
    version=src-$(tree_hash)
  fi
else
  [ -n "${ESO_VERSION:-}" ] || die "versions.env names no ESO_VERSION"
  tags=${ESO_BUILD_TAGS-}
  version=v$ESO_VERSION
fi
key="eso-${version}${tags:+-tags-${tags//,/+}}"
cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
out="$cache_root/$key"
if [ -x "$out/external-secrets" ]; then printf '%s\n' "$out/external-secrets"; exit 0; fi

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.24+ (https://go.dev/dl)"
command -v flock >/dev/null 2>&1 || die "flock is missing: install util-linux"

mkdir -p "$cache_root"
exec 9>"$cache_root/$key.lock"
flock 9
# Another builder may have finished while this one waited for the lock.
if [ -x "$out/external-secrets" ]; then printf '%s\n' "$out/external-secrets"; exit 0; fi

work=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=-buildvcs=false CGO_ENABLED=0
log "building $key (first run only; about 16 CPU-minutes: 9 minutes on 2 idle cores)"
started=$(date +%s)
(
  if [ -z "$source_dir" ]; then
    # The release's module zip, through the proxy; built in a copy so its go.mod (and its replace
    # lines, which a requiring module would drop) is the main module's, as in ESO's own build.
    dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || exit 1
    [ -n "$dir" ] && [ -f "$dir/go.mod" ] || { echo "go mod download gave no folder for $module@$version" >&2; exit 1; }
    mkdir "$work/src" && cp -R "$dir/." "$work/src/" && chmod -R u+w "$work/src" || exit 1
    source_dir=$work/src
  fi
  cd "$source_dir"
  go build -trimpath ${tags:+-tags "$tags"} -ldflags "-s -w" -o "$work/external-secrets" . >&2 || exit 1
) || die "building $key failed (see above)"

"$work/external-secrets" --help >/dev/null 2>&1 || die "the built binary does not run"
mkdir -p "$out"
mv "$work/external-secrets" "$out/external-secrets.tmp"
mv "$out/external-secrets.tmp" "$out/external-secrets"
log "built $key in $(( $(date +%s) - started ))s"
printf '%s\n' "$out/external-secrets"
