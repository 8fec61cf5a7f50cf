#!/usr/bin/env bash
# Local Kubernetes control plane for the integration tests (see /work/shared/spec/local-cluster.md).
# Installs etcd from Debian and builds kube-apiserver, kube-controller-manager and kube-scheduler
# from Debian's `kubernetes` source package (1.20.x) with Debian's Go. The three binaries are
# cached under ~/.cache/wva-ray/kube-<pkgversion>-<recipe>/bin/ (path recorded in ~/.cache/wva-ray/kube-current);
# when they exist this script only checks
# that etcd is installed and exits. The build tree lives outside the checkout and is deleted after.
set -euo pipefail

log() { echo "[20-kube-control-plane $(date -u +%H:%M:%S)] $*"; }
APT=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
cache_root="${WVA_RAY_CACHE:-$HOME/.cache/wva-ray}"
# Bump when the build recipe changes (binaries of an older recipe are then rebuilt once).
# r3: zero-value fix in both vendored copies of the OpenAPI validator (below).
recipe=r3
current="$cache_root/kube-current"  # holds the bin directory the test launcher uses

existing_bin() {
  local d
  for d in "$cache_root"/kube-*-"$recipe"/bin; do
    if [ -x "$d/kube-apiserver" ] && [ -x "$d/kube-controller-manager" ] && [ -x "$d/kube-scheduler" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

need_pkgs=()
for p in etcd-server etcd-client; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done

if bin=$(existing_bin) && [ ${#need_pkgs[@]} -eq 0 ]; then
  echo "$bin" > "$current"
  log "cached binaries in $bin and etcd installed: nothing to do"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/wva-ray-deb-src.sources
if [ ! -f "$src_list" ]; then
  log "adding deb-src entries ($src_list)"
  cat > "$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get -o DPkg::Lock::Timeout=600 update
fi

log "installing build and runtime packages"
"${APT[@]}" install etcd-server etcd-client golang-go dpkg-dev rsync jq \
  golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev

if bin=$(existing_bin); then
  echo "$bin" > "$current"
  log "cached binaries in $bin"
  exit 0
fi

version=$(apt-cache showsrc kubernetes | awk '/^Version:/ {print $2}' | sort -V | tail -1)
[ -n "$version" ] || { log "no kubernetes source package found"; exit 1; }
dest="$cache_root/kube-$version-$recipe/bin"
work="$cache_root/build-$version"
log "building kubernetes $version in $work (about 5 min on 2 cores)"
rm -rf "$work"
mkdir -p "$work" "$dest"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source "kubernetes=$version" >/dev/null)
tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
[ -n "$tree" ] || { log "apt-get source produced no tree in $work"; exit 1; }
for mod in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  log "replacing vendored $mod with Debian's copy"
  rm -rf "$tree/vendor/$mod"
  mkdir -p "$tree/vendor/$mod"
  rsync -a --exclude='*_test.go' "/usr/share/gocode/src/$mod/" "$tree/vendor/$mod/"
done
# Go >= 1.16 makes the vendored OpenAPI validator read every zero value, e.g. "" in a custom resource,
# as null ("must be of type string: null"; kubernetes#99804). Upstream's fix (kube-openapi#230,
# kubernetes#99817) keeps only the nil check in the type validator; apply the same one-line change to
# both copies (1.20's CRD validation uses kube-openapi's fork).
for typefile in "$tree/vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go" \
                "$tree/vendor/github.com/go-openapi/validate/type.go"; do
  sed -i 's/if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {/if data == nil {/' "$typefile"
  if grep -q 'reflect.DeepEqual(reflect.Zero(reflect.TypeOf' "$typefile"; then
    log "zero-value fix did not apply to $typefile"
    exit 1
  fi
done
log "make (GOPATH mode)"
(cd "$tree" && make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler") 2>&1 | tail -20
out="$tree/_output/bin"
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  install -m 0755 "$out/$b" "$dest/$b.tmp"
  mv "$dest/$b.tmp" "$dest/$b"
done
echo "$dest" > "$current"
for old in "$cache_root"/kube-*/; do  # binaries of older recipes or package versions
  [ "${old%/}" = "${dest%/bin}" ] || rm -rf "$old"
done
log "cached binaries in $dest; removing build tree"
