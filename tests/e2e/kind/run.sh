#!/usr/bin/env bash
# End-to-end check on a real (kind) cluster, for people with Docker. It cannot run on the project's CI
# machines (no container runtime); tests/e2e/kind/test_kind_e2e.py runs it when a Docker engine answers and
# skips otherwise. What it does:
#   1. kind cluster (kind-config.yaml), wva-ray image built from operator/Dockerfile and loaded into it;
#   2. kube-prometheus-stack (Prometheus + operator) and prometheus-adapter with operator/samples' rule;
#   3. emulated vLLM pods (`wva-ray emulate`, KV cache scripted to 0.95) scraped by a PodMonitor;
#   4. `helm install` of helm/wva-ray: VA + HPA for the emulator Deployment, gauges scraped by a ServiceMonitor;
#   5. asserts the scale-up: wva_desired_replicas reaches the HPA through the external metrics API and the
#      emulator Deployment goes from 1 to >= 2 replicas.
# Needs: docker, kind, kubectl, helm (WVA_HELM, the cached one from scripts/setup.d/30-helm.sh, or PATH) and
# network access to Docker Hub, quay.io, ghcr.io and the prometheus-community Helm repository.
# Env: CLUSTER (default wva-ray-e2e), KEEP_CLUSTER=1 (do not delete it), KIND_NODE_IMAGE, KPS_VERSION,
#      ADAPTER_VERSION (chart versions; default latest), TIMEOUT_S (scale-up deadline, default 600).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
CLUSTER=${CLUSTER:-wva-ray-e2e}
TIMEOUT_S=${TIMEOUT_S:-600}
IMAGE=wva-ray:e2e
CTX="kind-$CLUSTER"

log() { echo "[kind-e2e $(date -u +%H:%M:%S)] $*"; }
die() { log "FAIL: $*"; exit 1; }

helm_bin() {
  if [ -n "${WVA_HELM:-}" ]; then echo "$WVA_HELM"; return; fi
  local cached="${WVA_RAY_CACHE:-$HOME/.cache/wva-ray}/helm/helm"
  if [ -x "$cached" ]; then echo "$cached"; return; fi
  command -v helm || die "helm not found (set WVA_HELM or run scripts/setup.d/30-helm.sh)"
}

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH"
done
docker info >/dev/null 2>&1 || die "no Docker engine reachable"
HELM=$(helm_bin)
k() { kubectl --context "$CTX" "$@"; }
h() { "$HELM" --kube-context "$CTX" "$@"; }

# shellcheck disable=SC2317  # called from the EXIT trap
diagnostics() {
  log "diagnostics"
  k get pods -A -o wide || true
  k -n e2e-llm get deploy,hpa,va -o wide || true
  k -n e2e-llm describe hpa vllm-emu || true
  k -n e2e-llm get va vllm-emu -o yaml || true
  k -n wva-system logs deploy/wva-wva-ray --tail=200 || true
}

# shellcheck disable=SC2317  # the EXIT trap
cleanup() {
  local rc=$?
  [ "$rc" -ne 0 ] && diagnostics
  if [ "${KEEP_CLUSTER:-0}" = "1" ]; then
    log "keeping cluster $CLUSTER (kind delete cluster --name $CLUSTER)"
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

log "kind cluster $CLUSTER"
kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
node_image=()
[ -n "${KIND_NODE_IMAGE:-}" ] && node_image=(--image "$KIND_NODE_IMAGE")
kind create cluster --name "$CLUSTER" --config "$here/kind-config.yaml" "${node_image[@]}" --wait 120s

log "image $IMAGE"
DOCKER_BUILDKIT=1 docker build -f "$repo/operator/Dockerfile" -t "$IMAGE" "$repo"
kind load docker-image "$IMAGE" --name "$CLUSTER"

log "kube-prometheus-stack and prometheus-adapter"
h repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
h repo update prometheus-community >/dev/null
kps_version=()
[ -n "${KPS_VERSION:-}" ] && kps_version=(--version "$KPS_VERSION")
h upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack "${kps_version[@]}" \
  -n monitoring --create-namespace -f "$here/values-kube-prometheus-stack.yaml" --wait --timeout 10m
adapter_version=()
[ -n "${ADAPTER_VERSION:-}" ] && adapter_version=(--version "$ADAPTER_VERSION")
h upgrade --install prometheus-adapter prometheus-community/prometheus-adapter "${adapter_version[@]}" \
  -n monitoring -f "$repo/operator/samples/prometheus-adapter-values.yaml" \
  --set metricsRelistInterval=15s --wait --timeout 5m

log "emulated vLLM pods"
k apply -f "$here/manifests/emulator.yaml"
k -n e2e-llm rollout status deploy/vllm-emu --timeout=180s

log "helm install wva-ray"
h upgrade --install wva "$repo/helm/wva-ray" -n wva-system --create-namespace \
  -f "$here/values-wva-ray.yaml" --wait --timeout 5m
k -n wva-system rollout status deploy/wva-wva-ray --timeout=180s

log "waiting for the scale-up (deadline ${TIMEOUT_S}s)"
deadline=$((SECONDS + TIMEOUT_S))
metric_seen=0
while [ $SECONDS -lt $deadline ]; do
  if [ $metric_seen -eq 0 ] && k get --raw \
      "/apis/external.metrics.k8s.io/v1beta1/namespaces/e2e-llm/wva_desired_replicas?labelSelector=variant_name%3Dvllm-emu" \
      2>/dev/null | grep -q '"metricName":"wva_desired_replicas"'; then
    log "external metric wva_desired_replicas is served"
    metric_seen=1
  fi
  desired=$(k -n e2e-llm get va vllm-emu -o jsonpath='{.status.desiredOptimizedAlloc.numReplicas}' 2>/dev/null || true)
  replicas=$(k -n e2e-llm get deploy vllm-emu -o jsonpath='{.status.replicas}' 2>/dev/null || true)
  log "va desired=${desired:-?} deployment replicas=${replicas:-?}"
  if [ $metric_seen -eq 1 ] && [ "${desired:-0}" -ge 2 ] && [ "${replicas:-0}" -ge 2 ]; then
    log "PASS: saturated emulator scaled 1 -> $replicas (VA desired $desired) through wva_desired_replicas + HPA"
    exit 0
  fi
  sleep 10
done
die "no scale-up within ${TIMEOUT_S}s"
