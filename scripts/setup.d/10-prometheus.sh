#!/usr/bin/env bash
# Debian's Prometheus server for the metrics integration tests and benchmarks
# (see /work/shared/spec/local-cluster.md), plus openssl (the mTLS test makes its own CA).
# Idempotent: exits at once when both are present.
# The package's service is never started (no systemd here); tests run `prometheus` as a plain process.
set -euo pipefail

log() { echo "[10-prometheus $(date -u +%H:%M:%S)] $*"; }

if command -v prometheus >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 \
  && dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
  log "prometheus present: $(prometheus --version 2>&1 | head -1)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
# Refresh the package lists only when they are missing or older than a day.
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*_Packages' -mmin -1440 2>/dev/null | head -1)" ]; then
  log "apt-get update"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
fi
log "installing prometheus openssl"
"${APT[@]}" install prometheus openssl >/dev/null
# The Debian package may try to start its service through invoke-rc.d; without systemd nothing runs.
log "installed: $(prometheus --version 2>&1 | head -1)"
