"""Benchmark: N VariantAutoscalings in steady state against a real local kube-apiserver.

Measures, per cycle (observe -> decide -> publish, HPA mode), the VA status writes and the API requests made
beyond the open watch streams, plus the time of each step. Cycle 1 is the cold start (every VA gets its first
status); cycles 2.. repeat the same input 30 s apart (target: 0 writes, 0 requests, independent of N); the
last cycle is 301 s after the first, when the lastRunTime heartbeat (statusHeartbeatSeconds 300) is due.

Usage (from the repository root; starts and stops its own control plane, needs the cached binaries of
scripts/setup.d/20-kube-control-plane.sh):

    .venv/bin/python benchmarks/kube_steady_state.py --vas 1000 --cycles 12
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.kube.cluster import LocalControlPlane  # noqa: E402
from tests.kube.fake_kubelet import FakeKubelet, FakeNode  # noqa: E402
from tests.kube.manifests import apply, deployment, load_yaml, variant_autoscaling, wait_for  # noqa: E402
from wva_ray.adapters.kube.client import KubeApi, token_configuration  # noqa: E402
from wva_ray.adapters.kube.publish import KubePublisher  # noqa: E402
from wva_ray.adapters.kube.reader import KubeReader  # noqa: E402
from wva_ray.adapters.kube.settings import KubeSettings  # noqa: E402
from wva_ray.api.snapshot import PodMetrics  # noqa: E402
from wva_ray.core.decide import decide  # noqa: E402

NS = "bench"


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    keys = set(after) | set(before)
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(keys) if after.get(k, 0) != before.get(k, 0)}


def run(n_vas: int, cycles: int, workdir: Path) -> dict[str, Any]:
    plane = LocalControlPlane(workdir / "kube")
    info = plane.start()
    admin = KubeApi(token_configuration(info.server, info.token, str(info.ca_file)))
    kubelet: FakeKubelet | None = None
    reader: KubeReader | None = None
    try:
        for doc in load_yaml(REPO / "crds" / "llmd.ai_variantautoscalings.yaml"):
            apply(admin, doc)
        wait_for(lambda: _served(admin), 60, what="VA CRD served")
        nodes = [FakeNode(f"gpu-{i}", "NVIDIA-H100-80GB-HBM3", 600) for i in range(max(1, (n_vas + 499) // 500))]
        kubelet = FakeKubelet(admin, nodes, poll_s=1.0).start()
        apply(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        t_setup = time.monotonic()
        for i in range(n_vas):
            apply(admin, deployment(NS, f"m{i}", replicas=1))
            apply(admin, variant_autoscaling(NS, f"m{i}", f"m{i}", model_id=f"model-{i}"))

        api = KubeApi(token_configuration(info.server, info.token, str(info.ca_file)))
        reader = KubeReader(api, KubeSettings(watch_namespace=NS)).start(timeout_s=120)

        def all_ready() -> bool:
            s = reader.read() if reader else None
            return (
                s is not None
                and sum(1 for t in s.scale_targets if t.ready_replicas == 1) == n_vas
                and len([p for p in s.pods if p.ready]) == n_vas
            )

        wait_for(all_ready, 900, poll_s=2, what=f"{n_vas} targets with one ready pod")
        setup_s = time.monotonic() - t_setup
        publisher = KubePublisher(api, lookup=reader.va_object, heartbeat_s=300.0)
        t0 = datetime.now(UTC).replace(microsecond=0)
        offsets = [timedelta(seconds=30 * i) for i in range(cycles)]
        rows: list[dict[str, Any]] = []
        for i, offset in enumerate(offsets):
            now = t0 + offset
            before = api.request_counts()
            a = time.perf_counter()
            state = reader.read()
            b = time.perf_counter()
            metrics = [
                PodMetrics(
                    namespace=p.namespace,
                    model_name=f"model-{p.target[1:]}",
                    pod=p.name,
                    kv_cache_usage=0.5,
                    queue_length=0,
                )
                for p in state.pods
            ]
            plan = decide(state.snapshot(now, metrics=metrics), now)
            c = time.perf_counter()
            report = publisher.publish(plan.decisions, now, state.targets)
            d = time.perf_counter()
            requests = _delta(api.request_counts(), before)
            watches = requests.pop("WATCH", 0)
            rows.append(
                {
                    "cycle": i + 1,
                    "at_s": offset.total_seconds(),
                    "decisions": len(plan.decisions),
                    "status_writes": report.status_writes,
                    "events": report.events,
                    "api_requests_beyond_watches": requests,
                    "watch_reopens": watches,
                    "read_s": round(b - a, 3),
                    "decide_s": round(c - b, 3),
                    "publish_s": round(d - c, 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            # let the watch deliver our own writes before the next cycle (a stale cache would cost a 409 + GET)
            if report.status_writes:
                last = plan.decisions[-1].name
                wait_for(lambda last=last: _cache_caught_up(reader, last), 60, poll_s=0.5)
        return {"vas": n_vas, "setup_s": round(setup_s, 1), "cycles": rows}
    finally:
        if reader is not None:
            reader.stop()
        if kubelet is not None:
            kubelet.stop()
        plane.stop()


def _served(api: KubeApi) -> bool:
    try:
        api.get("/apis/llmd.ai/v1alpha1")
        return True
    except Exception:
        return False


def _cache_caught_up(reader: KubeReader, name: str) -> bool:
    obj = reader.va_object(NS, name)
    return bool(obj and (obj.get("status") or {}).get("desiredOptimizedAlloc"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vas", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=12, help="cycles 30 s apart in simulated time")
    parser.add_argument("--output", type=Path, default=None, help="write the result JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wva-kube-bench-") as tmp:
        result = run(args.vas, args.cycles, Path(tmp))
    result["machine"] = {"cpus": __import__("os").cpu_count(), "platform": platform.platform()}
    text = json.dumps(result, indent=1)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
