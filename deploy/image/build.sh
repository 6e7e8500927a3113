#!/usr/bin/env bash
# Builds the operator's container image without a Docker daemon, as an OCI image layout (`npm run image`).
#
# The image is distroless-style: no shell, no package manager, only what `node operator.mjs` needs.
#   layer 1  the shared libraries Node.js links against (libc6, libgcc-s1, libstdc++6, and the
#            copyright of their gcc-12-base), the CA bundle (ca-certificates) and /etc/os-release
#            (base-files), each from the Debian 12 package pinned in packages.lock and checked
#            against its SHA-256; /etc/passwd and /etc/group with the unprivileged `node` user
#            (1000:1000), /tmp (1777), and a dpkg status entry per package for image scanners
#   layer 2  /usr/local/bin/node: the Node.js binary that the `node` npm devDependency installed (the
#            same version as the Dockerfile's base image), checked against packages.lock
#   layer 3  /app/operator.mjs: `npm run build`'s bundle
# No tzdata: the operator keeps time in UTC, and Node.js carries its own time zone data (ICU).
#
# crane (built from Go modules by test/controlplane/crane.sh) pushes the layers to a registry it
# serves on loopback for the length of the build, sets the config the Dockerfile's final stage sets
# (ENTRYPOINT, USER, WORKDIR, ENV, EXPOSE) plus OCI labels, and pulls the result as an OCI layout.
# Every timestamp is SOURCE_DATE_EPOCH (default: the last commit's time) and every file is owned by
# root (but /home/node), so the same sources give the same digest.
#
#   deploy/image/build.sh [--output DIR]    build into DIR (default dist/image); the last stdout line
#                                           is the image's manifest digest
#   deploy/image/build.sh --update-lock     pin packages.lock to apt's current candidates and the
#                                           installed Node.js binary (run `apt-get update` first)
#
#   SOURCE_DATE_EPOCH   timestamps in the image (seconds since 1970)
#   IMAGE_SOURCE        org.opencontainers.image.source (default https://github.com/ecr-pullsecrets/operator)
#   ECR_OPERATOR_CACHE  where the .deb files and crane are cached (default ~/.cache/ecr-operator)
#
# Publish the layout with crane (or skopeo copy oci:dist/image docker://...):
#   crane push dist/image registry.example.com/ecr-pullsecrets-operator:0.1.0
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
lock="$here/packages.lock"
log() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }

output="$root/dist/image"
update_lock=false
while [ $# -gt 0 ]; do
  case "$1" in
    --output) [ $# -ge 2 ] || die "--output needs a folder"; output=$2; shift 2 ;;
    --output=*) output=${1#--output=}; shift ;;
    --update-lock) update_lock=true; shift ;;
    *) die "unknown argument $1 (see the comment at the top of $0)" ;;
  esac
done

# The Node.js binary of the `node` devDependency (node_modules/.bin/node is a link to it).
node_bin="$root/node_modules/node/bin/node"
[ -x "$node_bin" ] || die "$node_bin is missing: run npm ci"
node_version=$("$node_bin" --version) || die "cannot run $node_bin"
node_version=${node_version#v}

if $update_lock; then
  command -v apt-cache >/dev/null 2>&1 || die "apt-cache is missing: updating the lock needs a Debian system"
  new=$(mktemp)
  trap 'rm -f "$new"' EXIT
  sed -n '/^#/p' "$lock" >"$new"
  while read -r kind name _version arch _sum; do
    case "$kind" in
      deb)
        candidate=$(apt-cache policy "$name" | sed -n 's/^  Candidate: //p')
        [ -n "$candidate" ] && [ "$candidate" != "(none)" ] || die "apt knows no version of $name: run apt-get update"
        sum=$(apt-cache show "$name=$candidate" | sed -n 's/^SHA256: //p' | head -n 1)
        [ -n "$sum" ] || die "apt-cache show $name=$candidate gives no SHA256"
        printf '%-7s %-16s %-20s %-10s %s\n' deb "$name" "$candidate" "$arch" "$sum" >>"$new"
        ;;
      node)
        printf '%-7s %-16s %-20s %-10s %s\n' node node "$node_version" "$arch" "$(sha256sum "$node_bin" | cut -d' ' -f1)" >>"$new"
        ;;
    esac
  done < <(grep -v '^#' "$lock" | grep -v '^\s*$')
  mv "$new" "$lock"
  trap - EXIT
  log "pinned $(grep -vc '^#' "$lock") inputs in $lock"
  exit 0
fi

command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is missing: building the image needs a Debian system (apt-get install dpkg)"
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is needed (for --sort and --mtime)"

# --- inputs, checked against the lock ---------------------------------------------------------
started=$(date +%s)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null) || die "not a git checkout: set SOURCE_DATE_EPOCH"
fi
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH is not a number of seconds"
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
version=$(cd "$root" && "$node_bin" -p 'require("./package.json").version')
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
# A tree with uncommitted changes to what goes into the image is not that commit.
if [ "$revision" != unknown ] && ! git -C "$root" diff --quiet HEAD -- src package.json package-lock.json deploy/image 2>/dev/null; then
  revision="$revision-dirty"
fi
source_url=${IMAGE_SOURCE:-https://github.com/ecr-pullsecrets/operator}

# The Dockerfile's base image is node:<version>-...: the image must run the same Node.js.
dockerfile_node=$(sed -n 's/^FROM node:\([0-9][0-9.]*\)-.*/\1/p' "$root/Dockerfile" | tail -n 1)
[ "$dockerfile_node" = "$node_version" ] || die "node_modules has Node.js $node_version but the Dockerfile's image has $dockerfile_node: keep package.json's node devDependency and the Dockerfile on one version"
read -r _ _ locked_node _ locked_node_sum < <(grep '^node ' "$lock") || die "$lock has no node line"
[ "$locked_node" = "$node_version" ] || die "$lock pins Node.js $locked_node, node_modules has $node_version: run $0 --update-lock"
[ "$(sha256sum "$node_bin" | cut -d' ' -f1)" = "$locked_node_sum" ] || die "$node_bin is not the Node.js $node_version binary pinned in $lock (SHA-256 differs)"

cache_root=${ECR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator}
debs="$cache_root/debs"
mkdir -p "$debs"
crane=$(bash "$root/test/controlplane/crane.sh" | tail -n 1) || die "building crane failed (see above)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ecr-operator-image.XXXXXX")
registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Downloads name=version unless cached, and checks its SHA-256 either way. Prints the .deb's path.
fetch_deb() {
  local name=$1 version=$2 arch=$3 sum=$4
  local file="$debs/${name}_${version}_${arch}.deb"
  if [ ! -f "$file" ]; then
    local dl="$work/download-$name"
    mkdir -p "$dl"
    log "downloading $name $version"
    # As root, apt would download as its _apt user, which cannot write into this private folder.
    download() { (cd "$dl" && apt-get download -q -o "APT::Sandbox::User=$(id -un)" "$name=$version" >&2); }
    if ! download; then
      # A fresh machine may have no package lists yet; root can fetch them.
      [ "$(id -u)" = 0 ] || die "apt-get download $name=$version failed: run apt-get update (as root), then this again"
      log "apt knows no $name $version: running apt-get update"
      apt-get update -q >&2 || die "apt-get update failed"
      download || die "apt-get download $name=$version failed: Debian's mirror no longer serves that version. Move to the current versions with: $0 --update-lock (and review the diff)"
    fi
    local got=("$dl"/*.deb)
    [ "${#got[@]}" -eq 1 ] && [ -f "${got[0]}" ] || die "apt-get download $name=$version left no single .deb"
    mv "${got[0]}" "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  local actual
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$actual" != "$sum" ]; then
    rm -f "$file"
    die "$name $version: SHA-256 $actual is not the $sum pinned in $lock"
  fi
  printf '%s\n' "$file"
}

# --- layer 1: base ------------------------------------------------------------------------------
base="$work/base"
mkdir -p "$base/etc/ssl/certs" "$base/var/lib/dpkg/status.d" "$base/usr/share/doc" "$base/home" "$base/tmp" "$base/root"
chmod 1777 "$base/tmp"
chmod 0700 "$base/root"
while read -r kind name pkg_version arch sum; do
  [ "$kind" = deb ] || continue
  deb=$(fetch_deb "$name" "$pkg_version" "$arch" "$sum")
  x="$work/pkg/$name"
  mkdir -p "$x"
  dpkg-deb -x "$deb" "$x"
  case "$name" in
    ca-certificates)
      # What update-ca-certificates (the package's postinst, which we don't run) writes: every
      # certificate the package enables, in one PEM file.
      find "$x/usr/share/ca-certificates" -name '*.crt' | sort | xargs cat >"$base/etc/ssl/certs/ca-certificates.crt"
      ;;
    base-files)
      mkdir -p "$base/usr/lib" "$base/usr/share"
      cp -p "$x/etc/debian_version" "$base/etc/debian_version"
      cp -p "$x/usr/lib/os-release" "$base/usr/lib/os-release"
      ln -s ../usr/lib/os-release "$base/etc/os-release"
      # The license texts that the packages' copyright files refer to.
      cp -a "$x/usr/share/common-licenses" "$base/usr/share/"
      ;;
    *)
      cp -a "$x/." "$base/"
      rm -rf "${base:?}/usr/share/doc/$name"
      ;;
  esac
  # Of the documentation, the copyright file (libgcc-s1's and libstdc++6's folder is a link to gcc-12-base's).
  doc="usr/share/doc/$name"
  if [ -L "$x/$doc" ]; then
    cp -P "$x/$doc" "$base/$doc"
  else
    mkdir -p "$base/$doc"
    cp -p "$x/$doc/copyright" "$base/$doc/copyright"
  fi
  # As distroless images: a status file per package, as dpkg would record it, for image scanners.
  { dpkg-deb -f "$deb" | sed -n '1p'; echo 'Status: install ok installed'; dpkg-deb -f "$deb" | sed '1d'; } >"$base/var/lib/dpkg/status.d/$name"
done < <(grep -v '^#' "$lock")
# Debian 12's merged /usr: /lib and /lib64 are links into /usr (the ELF interpreter is /lib64/ld-linux-x86-64.so.2).
for dir in lib lib64; do
  if [ -d "$base/$dir" ] && [ ! -L "$base/$dir" ]; then
    mkdir -p "$base/usr/$dir"
    cp -a "$base/$dir/." "$base/usr/$dir/"
    rm -rf "${base:?}/$dir"
  fi
  [ -e "$base/$dir" ] || ln -s "usr/$dir" "$base/$dir"
done
# Only what Node.js loads: no programs (no shell, ldconfig, getent, iconv), no iconv modules, no
# debugger scripts, no manuals (ld.so.conf.d only serves ldconfig).
rm -rf "$base/bin" "$base/sbin" "$base/usr/bin" "$base/usr/sbin" "$base/usr/libexec" \
  "$base/usr/lib/x86_64-linux-gnu/gconv" "$base/usr/share/gcc" "$base/usr/share/gdb" "$base/usr/share/man" \
  "$base/usr/share/info" "$base/usr/share/lintian" "$base/usr/share/locale" "$base/etc/ld.so.conf.d"
[ -f "$base/usr/lib64/ld-linux-x86-64.so.2" ] || [ -L "$base/usr/lib64/ld-linux-x86-64.so.2" ] || die "libc6 brought no /lib64/ld-linux-x86-64.so.2"
# The users: root, and the unprivileged `node` (1000:1000, as in the Node.js images) the operator runs as.
cat >"$base/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
node:x:1000:1000:node:/home/node:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$base/etc/group" <<'EOF'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOF
# /etc/hosts first, then DNS, for getaddrinfo (glibc's default without this file is DNS first).
printf 'hosts: files dns\n' >"$base/etc/nsswitch.conf"
chmod 0644 "$base/etc/passwd" "$base/etc/group" "$base/etc/nsswitch.conf" "$base/etc/ssl/certs/ca-certificates.crt"
# The user's home, which the layer gives to 1000:1000 (see tar_layer).
mkdir -p "$base/home/node"

# --- layer 2: node; layer 3: the operator ---------------------------------------------------------
runtime="$work/node"
install -D -m 0755 "$node_bin" "$runtime/usr/local/bin/node"
log "bundling src/main.ts (npm run build)"
(cd "$root" && npm run --silent build >&2) || die "npm run build failed"
app="$work/app"
install -D -m 0644 "$root/dist/operator.mjs" "$app/app/operator.mjs"

# Same bytes for the same files: entries in byte order of their paths (a folder before what it holds),
# one mtime, owners by number, no atime or ctime. Every entry is root's but `owned` (an empty folder),
# which is 1000:1000: tar sets owners per run, so that entry is archived apart and the three archives
# joined in order.
tar_layer() {
  local dir=$1 out=$2 owned=${3:-}
  local list="$out.list"
  local common=(--format=gnu --no-recursion --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --directory="$dir" --verbatim-files-from)
  (cd "$dir" && find . -mindepth 1 -printf '%P\n' | sort) >"$list"
  if [ -z "$owned" ]; then
    tar --create --file="$out" "${common[@]}" --owner=0 --group=0 --files-from="$list"
    return
  fi
  local at
  at=$(grep -nxF "$owned" "$list" | cut -d: -f1)
  [ -n "$at" ] || die "$owned is not in $dir"
  ! grep -qF "$owned/" "$list" || die "$owned must be an empty folder"
  head -n "$((at - 1))" "$list" >"$list.before"
  tail -n "+$((at + 1))" "$list" >"$list.after"
  tar --create --file="$out" "${common[@]}" --owner=0 --group=0 --files-from="$list.before"
  tar --create --file="$out.owned" "${common[@]}" --owner=1000 --group=1000 -- "$owned"
  tar --create --file="$out.after" "${common[@]}" --owner=0 --group=0 --files-from="$list.after"
  # One archive at a time: GNU tar 1.34 given two stops reading at the first one's end marker.
  tar --concatenate --file="$out" "$out.owned"
  tar --concatenate --file="$out" "$out.after"
}
tar_layer "$base" "$work/base.tar" home/node
tar_layer "$runtime" "$work/node.tar"
tar_layer "$app" "$work/app.tar"

# --- the image, through a registry on loopback ----------------------------------------------------
mkdir -p "$work/registry"
"$crane" registry serve --address 127.0.0.1:0 --disk "$work/registry" 2>"$work/registry.log" &
registry_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*serving on port \([0-9][0-9]*\).*/\1/p' "$work/registry.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$registry_pid" 2>/dev/null || die "crane registry serve exited: $(cat "$work/registry.log")"
  sleep 0.1
done
[ -n "$port" ] || die "crane registry serve did not start: $(cat "$work/registry.log")"
ref="127.0.0.1:$port/ecr-pullsecrets-operator:$version"
c() { "$crane" --insecure "$@"; }

log "pushing the layers to a registry on 127.0.0.1:$port"
c append --oci-empty-base --new_layer "$work/base.tar" --new_layer "$work/node.tar" --new_layer "$work/app.tar" \
  --new_tag "$ref" >/dev/null 2>"$work/crane.log" || die "crane append failed: $(cat "$work/crane.log")"
# The Dockerfile's final stage: ENTRYPOINT ["node", "--max-semi-space-size=2", "--no-maglev", "--no-opt", "operator.mjs"] in
# WORKDIR /app, found through PATH, here written out absolute so that the image starts the same
# whatever the runtime's working directory (test/e2e/image.test.ts holds the two equal).
labels=(
  "org.opencontainers.image.title=ecr-pullsecrets-operator"
  "org.opencontainers.image.description=Kubernetes operator that keeps Amazon ECR pull secrets fresh and imports ECR images"
  "org.opencontainers.image.source=$source_url"
  "org.opencontainers.image.version=$version"
  "org.opencontainers.image.revision=$revision"
  "org.opencontainers.image.created=$created"
  "org.opencontainers.image.licenses=Apache-2.0"
)
mutate=(mutate "$ref" --tag "$ref" --set-platform linux/amd64
  --entrypoint /usr/local/bin/node,--max-semi-space-size=2,--no-maglev,--no-opt,/app/operator.mjs
  --user 1000:1000 --workdir /app
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_ENV=production --env MALLOC_ARENA_MAX=2 --env MALLOC_MMAP_THRESHOLD_=32768
  --exposed-ports 8080/tcp,8081/tcp)
for label in "${labels[@]}"; do mutate+=(--label "$label" --annotation "$label"); done
c "${mutate[@]}" >/dev/null 2>"$work/crane.log" || die "crane mutate failed: $(cat "$work/crane.log")"
# crane leaves the creation time and the layers' history empty: set them, as docker build does.
c config "$ref" >"$work/config.json"
"$node_bin" -e '
  const fs = require("node:fs");
  const [file, created] = process.argv.slice(1);
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  config.created = created;
  config.history = ["base: Debian 12 libraries, CA certificates, users", "node: /usr/local/bin/node", "app: /app/operator.mjs"]
    .map((what) => ({ created, created_by: `deploy/image/build.sh ${what}` }));
  if (config.rootfs.diff_ids.length !== config.history.length) throw new Error("expected 3 layers");
  fs.writeFileSync(file, JSON.stringify(config));
' "$work/config.json" "$created"
c edit config "$ref" --tag "$ref" <"$work/config.json" >/dev/null 2>"$work/crane.log" || die "crane edit config failed: $(cat "$work/crane.log")"
digest=$(c digest "$ref")

rm -rf "$output"
mkdir -p "$(dirname "$output")"
c pull --format=oci "${ref%:*}@$digest" "$output" 2>"$work/crane.log" || die "crane pull failed: $(cat "$work/crane.log")"
# The layout's name for it, as `skopeo copy oci:dist/image:0.1.0` or `crane push` read it.
"$node_bin" -e '
  const fs = require("node:fs");
  const [file, tag] = process.argv.slice(1);
  const index = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const m of index.manifests) m.annotations = { ...m.annotations, "org.opencontainers.image.ref.name": tag };
  fs.writeFileSync(file, JSON.stringify(index));
' "$output/index.json" "$version"

compressed=$(c manifest "$ref" | "$node_bin" -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const m=JSON.parse(s);console.log(m.layers.reduce((n,l)=>n+l.size,m.config.size))})')
unpacked=$(du -sb --apparent-size "$base" "$runtime" "$app" | awk '{n+=$1} END {print n}')
log "built ecr-pullsecrets-operator:$version $digest in $(( $(date +%s) - started ))s into $output"
log "size: $(( compressed / 1024 / 1024 )) MiB compressed, $(( unpacked / 1024 / 1024 )) MiB unpacked"
printf '%s\n' "$digest"
