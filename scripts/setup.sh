#!/usr/bin/env bash
# Installs the real components the integration tests and demos need, idempotently and cached.
# Each part lives in scripts/setup.d/NN-name.sh and is run in order; each must be safe to re-run
# and fast when its component is already present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for part in "$here"/setup.d/*.sh; do
  [ -e "$part" ] || continue
  echo "== setup: $(basename "$part")"
  bash "$part"
done
