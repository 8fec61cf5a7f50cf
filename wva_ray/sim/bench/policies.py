"""The bench's policies by name: wva-ray as a fresh install runs it, its analyzers, upstream WVA, the baselines.

A name is `family` or `family@key=value,key=value` (a sweep point, e.g. `keda-queue@threshold=8`). Each family has
its real defaults under its plain name; `SWEEPS` lists the settings `--sweep` adds. wva-ray policies get only
their configuration here (analyzer, the service classes a user would write, actuation); everything they decide on
comes from the rendered snapshot. `wva-ray` reads the Helm chart's defaults (helm/wva-ray/values.yaml: the
saturation ConfigMap's `default` entry, `controller.interval`, `hpa.behavior`), so it always is what a fresh
install runs. Reads that one file; otherwise pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wva_ray.sim.actuation import CHART_PASS_THROUGH, Actuator, ScalerSettings, make_actuator
from wva_ray.sim.bench.prepare import Prepared, service_classes_config, static_peak_counts
from wva_ray.sim.policies.base import WVA_CHART_BEHAVIOR, HpaBehavior, Policy
from wva_ray.sim.policies.hpa import HpaKv
from wva_ray.sim.policies.keda import KedaQueue
from wva_ray.sim.policies.kpa import Kpa
from wva_ray.sim.policies.planner import Planner
from wva_ray.sim.policies.ray_serve import RayServe
from wva_ray.sim.policies.static import Scheduled
from wva_ray.sim.policies.wva_ray import WvaRay
from wva_ray.sim.policies.wva_upstream import WvaUpstream

CHART_VALUES = Path(__file__).resolve().parents[3] / "helm" / "wva-ray" / "values.yaml"
DEFAULT_POLICY = "wva-ray"
FAMILIES = (
    "wva-ray",
    "wva-ray-v1",
    "wva-ray-v2",
    "wva-ray-slo",
    "wva-upstream-v1-hpa",
    "wva-upstream-v2-keda",
    "hpa-kv",
    "hpa-kv-tuned",
    "hpa-running",
    "hpa-queue",
    "keda-queue",
    "ray-serve-default",
    "ray-serve-llm-default",
    "ray-serve-sample",
    "ray-serve",
    "aibrix-kpa",
    "dynamo-planner",
    "static-peak",
)
DEFAULT_POLICIES = tuple(f for f in FAMILIES if f != "ray-serve")
# --quick (CI, under two minutes): ours as installed, the analyzer candidate, upstream today, a sized baseline.
QUICK_POLICIES = ("wva-ray", "wva-ray-slo", "wva-upstream-v2-keda", "keda-queue", "static-peak")
SWEEPS: dict[str, list[str]] = {
    "hpa-running": [f"hpa-running@target={t}" for t in (0.02, 0.04, 0.08, 0.16)],
    "hpa-queue": [f"hpa-queue@target={t}" for t in (0.5, 1, 2, 4)],
    "keda-queue": [f"keda-queue@threshold={t}" for t in (8, 16, 32, 64, 128)],
    "ray-serve": [f"ray-serve@target={t}" for t in (8, 16, 32, 64)],
    "aibrix-kpa": [f"aibrix-kpa@target={t}" for t in (8, 16, 32, 64)],
    "dynamo-planner": [f"dynamo-planner@headroom={h}" for h in (1.0, 1.2, 1.5)],
}
ALIASES = {"wva-upstream": "wva-upstream-v1-hpa"}
_NAME = re.compile(r"^(?P<family>[a-z0-9-]+)(@(?P<params>[a-z_]+=[0-9.e+-]+(,[a-z_]+=[0-9.e+-]+)*))?$")


@dataclass(frozen=True)
class FreshInstall:
    """What the chart installs: the saturation `default` entry, the cycle interval, the HPA behaviour."""

    saturation_default: dict[str, Any]
    interval_s: float
    behavior: HpaBehavior


def _duration_s(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"{CHART_VALUES}: controller.interval {text!r} is not a duration like 30s")
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]


def _behavior(raw: Mapping[str, Any]) -> HpaBehavior:
    def rule(side: str) -> tuple[float, int | None, float, float]:
        spec = raw.get(side, {}) or {}
        pods = next((p for p in spec.get("policies", []) if p.get("type") == "Pods"), None)
        pct = next((p for p in spec.get("policies", []) if p.get("type") == "Percent"), None)
        period = float((pods or pct or {}).get("periodSeconds", 15))
        return (
            float(spec.get("stabilizationWindowSeconds", 0 if side == "scaleUp" else 300)),
            int(pods["value"]) if pods else None,
            float(pct["value"]) if pct else 0.0,
            period,
        )

    up, down = rule("scaleUp"), rule("scaleDown")
    return HpaBehavior(
        up_stabilization_s=up[0],
        up_pods=up[1] or 0,
        up_percent=up[2],
        up_period_s=up[3],
        down_stabilization_s=down[0],
        down_pods=down[1],
        down_percent=down[2],
        down_period_s=down[3],
    )


def fresh_install(values: Path = CHART_VALUES) -> FreshInstall:
    data = yaml.safe_load(values.read_text(encoding="utf-8"))
    sat = dict((data.get("saturation") or {}).get("default") or {})
    interval = _duration_s(str((data.get("controller") or {}).get("interval", "30s")))
    raw = (data.get("hpa") or {}).get("behavior")
    return FreshInstall(sat, interval, _behavior(raw) if raw else CHART_PASS_THROUGH)


def parse_name(name: str) -> tuple[str, dict[str, float]]:
    name = ALIASES.get(name, name)
    m = _NAME.match(name)
    if not m or m.group("family") not in FAMILIES:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(FAMILIES)} (optionally @key=value)")
    params = {}
    if m.group("params"):
        for kv in m.group("params").split(","):
            k, v = kv.split("=")
            params[k] = float(v)
    return m.group("family"), params


@dataclass(frozen=True)
class Built:
    policy: Policy
    actuator: Actuator | None  # None: the policy actuates itself (direct)


def _wva(
    name: str, prep: Prepared, analyzer: str | None, interval_s: float | None, mode: str, shards: int = 1
) -> Built:
    fresh = fresh_install()
    extra = dict(fresh.saturation_default)
    if analyzer is not None:
        extra["analyzerName"] = analyzer
    chosen = str(extra.pop("analyzerName", ""))
    config = {"serviceClasses": service_classes_config(prep.scenario)}
    interval = interval_s or fresh.interval_s
    policy = WvaRay(name, analyzer=chosen, interval_s=interval, extra=extra, config=config, shards=shards)
    scrape = prep.scenario.scrape_interval_s
    if mode == "direct":
        return Built(policy, make_actuator("direct", interval, scrape))
    return Built(policy, make_actuator("hpa", interval, scrape, ScalerSettings(fresh.behavior)))


def build(name: str, prep: Prepared, shards: int = 1) -> Built:
    """The policy `name` for this prepared seed; `shards` is the runtime shard count of the policies that run
    wva-ray's decision path (a name's own `@shards=N` wins)."""
    family, p = parse_name(name)
    caps = prep.capacity
    seqs = {v.name: v.profile.max_num_seqs for v in prep.variants}
    mode = "direct" if p.get("direct") else "hpa"
    shards = int(p.get("shards", shards))
    if family == "wva-ray":
        return _wva(name, prep, None, None, mode, shards)
    if family in ("wva-ray-v1", "wva-ray-v2", "wva-ray-slo"):
        analyzer = {"wva-ray-v1": "", "wva-ray-v2": "saturation", "wva-ray-slo": "slo"}[family]
        return _wva(name, prep, analyzer, None, mode, shards)
    if family == "wva-upstream-v1-hpa":
        return Built(WvaUpstream(name), None)
    if family == "wva-upstream-v2-keda":  # V2 every 60 s through a ScaledObject with KEDA's default HPA behaviour
        policy = WvaRay(name, analyzer="saturation", interval_s=60.0, shards=shards)
        keda = ScalerSettings(HpaBehavior(), min_replicas=1)
        return Built(policy, make_actuator("keda", 60.0, prep.scenario.scrape_interval_s, keda))
    if family == "hpa-kv":
        return Built(HpaKv(name, target=p.get("target", 0.7)), None)
    if family == "hpa-kv-tuned":
        return Built(HpaKv(name, target=p.get("target", 0.7), behavior=WVA_CHART_BEHAVIOR), None)
    if family == "hpa-running":
        return Built(HpaKv(name, target=p.get("target", 0.7), metric="running", max_num_seqs=seqs), None)
    if family == "hpa-queue":
        return Built(HpaKv(name, target=p.get("target", 2.0), metric="queue"), None)
    if family == "keda-queue":  # llm-d's KEDA guide: 16 running requests per replica
        return Built(KedaQueue(dict.fromkeys(caps, p.get("threshold", 16.0)), name), None)
    if family == "ray-serve-default":
        return Built(RayServe(dict.fromkeys(caps, 2.0), name, max_ongoing_requests=5), None)
    if family == "ray-serve-llm-default":
        return Built(RayServe(dict.fromkeys(caps, 1e9), name, max_ongoing_requests=10**9), None)
    if family == "ray-serve-sample":
        return Built(RayServe(dict.fromkeys(caps, 64.0), name, max_ongoing_requests=128), None)
    if family == "ray-serve":
        target = p.get("target", 64.0)
        return Built(RayServe(dict.fromkeys(caps, target), name, max_ongoing_requests=math.ceil(2 * target)), None)
    if family == "aibrix-kpa":
        return Built(Kpa(name, target=p.get("target", 100.0)), None)
    if family == "dynamo-planner":
        rates = {v: c.rate_rps for v, c in caps.items()}
        return Built(Planner(rates, name, headroom=p.get("headroom", 1.0)), None)
    if family == "static-peak":
        return Built(Scheduled(name, {k: [n] for k, n in static_peak_counts(prep).items()}, 1e12), None)
    raise ValueError(f"unknown policy {name!r}")
