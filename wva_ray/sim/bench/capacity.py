"""Per-replica capacity by search: the largest Poisson rate one replica serves within an SLO.

Owns `find_capacity` (bisection over the arrival rate, each probe a run of the same `ReplicaModel` the
simulator uses, so the oracle and the sized baselines stay feasible in the simulator) and
`CapacityTable` (a per-run memo keyed by profile, workload and SLO class, seeded from a cache the caller reads
and writes). Pure computation apart from hashing its own and the replica model's source (the cache key).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wva_ray.sim.model import replica as replica_module
from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.replica import ReplicaModel
from wva_ray.sim.model.scenario import SloClass
from wva_ray.sim.model.traces import IntArray


@dataclass(frozen=True)
class Capacity:
    """One replica at its SLO capacity: rate, and the mean batch / queue / KV seen there."""

    rate_rps: float
    mean_running: float
    mean_ongoing: float
    mean_kv_ratio: float
    attainment: float
    idle_attainment: float  # attainment of the workload on an unloaded replica (the ceiling)


@dataclass(frozen=True)
class _Probe:
    attainment: float
    mean_running: float
    mean_ongoing: float
    mean_kv_ratio: float


def _probe(
    profile: Profile, prompts: IntArray, outputs: IntArray, slo: SloClass, rate: float, n: int, seed: int
) -> _Probe:
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, n))
    pick = rng.integers(0, len(prompts), n)
    rep = ReplicaModel(profile)
    warm = n // 10
    ok = 0
    total = 0
    running_sum = 0.0
    ongoing_sum = 0.0
    kv_sum = 0.0
    samples = 0
    for i in range(n):
        t = float(arrivals[i])
        rep.submit(i, int(prompts[pick[i]]), int(outputs[pick[i]]), t)
        if i >= warm:
            running_sum += rep.running
            ongoing_sum += rep.load
            kv_sum += rep.state().kv_usage_ratio if i % 16 == 0 else 0.0
            samples += 1
        for c in rep.advance(t):
            if isinstance(c.request_id, int) and c.request_id >= warm:
                total += 1
                ok += c.ttft_s <= slo.ttft_s and c.itl_s <= slo.itl_s
    horizon = float(arrivals[-1]) + 3600.0
    for c in rep.advance(horizon):
        if isinstance(c.request_id, int) and c.request_id >= warm:
            total += 1
            ok += c.ttft_s <= slo.ttft_s and c.itl_s <= slo.itl_s
    samples = max(samples, 1)
    return _Probe(
        attainment=ok / max(total, 1),
        mean_running=running_sum / samples,
        mean_ongoing=ongoing_sum / samples,
        mean_kv_ratio=kv_sum * 16 / samples,
    )


def find_capacity(
    profile: Profile,
    prompts: IntArray,
    outputs: IntArray,
    slo: SloClass,
    target: float = 0.99,
    n_requests: int = 6000,
    iterations: int = 12,
    seed: int = 0,
) -> Capacity:
    """Bisection on the Poisson rate for attainment >= `target` x the attainment at near-zero load
    (TTFT and mean ITL both within the SLO; a workload whose longest prompts cannot meet the TTFT SLO
    even alone, e.g. Mooncake on 70B, is sized against what is attainable at all)."""
    if len(prompts) == 0 or len(prompts) != len(outputs):
        raise ValueError(f"token pools must be non-empty and equal: {len(prompts)} vs {len(outputs)}")
    mean_in = float(np.mean(prompts))
    hi = profile.prefill_tokens_per_s / max(mean_in, 1.0)
    lo = 0.0
    idle = _probe(profile, prompts, outputs, slo, hi / 500.0, min(n_requests, 2000), seed)
    goal = target * idle.attainment
    best = idle
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        probe = _probe(profile, prompts, outputs, slo, mid, n_requests, seed)
        if probe.attainment >= goal:
            lo, best = mid, probe
        else:
            hi = mid
    return Capacity(lo, best.mean_running, best.mean_ongoing, best.mean_kv_ratio, best.attainment, idle.attainment)


def _code_hash() -> str:
    """Changes when the replica model or this search changes (cached capacities then expire)."""
    h = hashlib.blake2b(digest_size=8)
    for mod in (replica_module, sys.modules[__name__]):
        h.update(Path(str(mod.__file__)).read_bytes())
    return h.hexdigest()


class CapacityTable:
    """Memo of capacities for one benchmark run (keys: profile id, workload key, SLO class name), optionally
    seeded from an earlier run's `cached()` (valid only for the same profile, token pools, SLO, search size and
    code: those are in its key, so a change re-measures; the search is deterministic, so a hit is what a
    measurement would give)."""

    def __init__(
        self, target: float = 0.99, n_requests: int = 6000, cached: Mapping[str, Mapping[str, float]] | None = None
    ) -> None:
        self.target = target
        self.n_requests = n_requests
        self._table: dict[tuple[str, str, str], Capacity] = {}
        self._cached = {k: Capacity(**{f: float(x) for f, x in v.items()}) for k, v in (cached or {}).items()}
        self._keys: dict[tuple[str, str, str], str] = {}
        self._code = _code_hash()
        self.computed = 0

    def _cache_key(self, profile: Profile, prompts: IntArray, outputs: IntArray, slo: SloClass) -> str:
        h = hashlib.blake2b(digest_size=8)
        for part in (profile.model_dump_json(), repr(slo), f"{self.target}|{self.n_requests}"):
            h.update(part.encode())
        h.update(np.ascontiguousarray(prompts, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(outputs, dtype=np.int64).tobytes())
        return f"{profile.id}|{h.hexdigest()}|{self._code}"

    def cached(self) -> dict[str, dict[str, float]]:
        """What this run measured or reused, for the next run's `cached` (keys carry inputs and code hash)."""
        out = {k: vars(v).copy() for k, v in self._cached.items()}
        for key, ck in self._keys.items():
            out[ck] = vars(self._table[key]).copy()
        return out

    def get(
        self,
        profile: Profile,
        workload_key: str,
        prompts: IntArray,
        outputs: IntArray,
        slo_name: str,
        slo: SloClass,
    ) -> Capacity:
        key = (profile.id, workload_key, slo_name)
        if key not in self._table:
            ck = self._cache_key(profile, prompts, outputs, slo)
            hit = self._cached.get(ck)
            if hit is None:
                hit = find_capacity(profile, prompts, outputs, slo, self.target, self.n_requests)
                self.computed += 1
            self._table[key] = hit
            self._keys[key] = ck
        return self._table[key]

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {"|".join(k): vars(v).copy() for k, v in sorted(self._table.items())}
