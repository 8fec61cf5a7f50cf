#!/usr/bin/env bash
# kubectl within the local API server's version skew (see /work/shared/spec/local-cluster.md): Debian's
# `kubernetes-client` package is kubectl from the same 1.20.2 source build as the control plane of
# 20-kube-control-plane.sh. It is not installed with apt (its /usr/bin/kubectl would clash with a kubectl
# another package may own); its .deb is downloaded (`apt-get download`) and the binary extracted to
#  ${WVA_RAY_CACHE:-~/.cache/wva-ray}/kubectl-<package version>/kubectl  with the stable symlink
#  ${WVA_RAY_CACHE:-~/.cache/wva-ray}/kubectl  which tests/packaging/tools.py prefers (env WVA_KUBECTL beats it).
# When the binary is already there, it does nothing.
set -euo pipefail

log() { echo "[25-kubectl $(date -u +%H:%M:%S)] $*"; }

cache_root="${WVA_RAY_CACHE:-$HOME/.cache/wva-ray}"
stable="$cache_root/kubectl"

version=$(apt-cache policy kubernetes-client 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  log "no kubernetes-client candidate: apt-get update"
  apt-get -o DPkg::Lock::Timeout=600 update
  version=$(apt-cache policy kubernetes-client | awk '/Candidate:/ {print $2}')
fi
dir="$cache_root/kubectl-$version"
if [ -x "$dir/kubectl" ]; then
  ln -sfn "$dir/kubectl" "$stable"
  log "cached: $stable -> $dir/kubectl ($("$stable" version --client --short 2>/dev/null || true))"
  exit 0
fi

work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
log "apt-get download kubernetes-client=$version"
(cd "$work" && apt-get download "kubernetes-client=$version")
deb=$(find "$work" -maxdepth 1 -name 'kubernetes-client_*.deb' | head -1)
[ -n "$deb" ] || { log "download produced no .deb"; exit 1; }
dpkg-deb -x "$deb" "$work/x"
mkdir -p "$dir"
install -m 0755 "$work/x/usr/bin/kubectl" "$dir/kubectl"
ln -sfn "$dir/kubectl" "$stable"
log "installed $stable -> $dir/kubectl ($("$stable" version --client --short 2>/dev/null || true))"
