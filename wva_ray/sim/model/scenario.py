"""Benchmark scenarios as data (YAML in benchmarks/scenarios/) and the traces they generate.

Owns the scenario schema (models, variants, workloads, budgets, SLO classes), sweep expansion
(e.g. one scenario per start-up delay) and `build_trace`. Reads YAML and trace files; no other I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model.profiles import Profile, load_profiles
from wva_ray.sim.model.traces import (
    TOKEN_PRESETS,
    RateShape,
    TokenDist,
    Trace,
    load_trace,
    rate_multiplied,
    synthesize,
)


class SloClass(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ttft_s: float = Field(gt=0)
    itl_s: float = Field(gt=0)


SLO_CLASSES: dict[str, SloClass] = {
    "strict": SloClass(ttft_s=0.5, itl_s=0.025),
    "standard": SloClass(ttft_s=1.0, itl_s=0.050),
    "relaxed": SloClass(ttft_s=2.0, itl_s=0.120),
}


class TraceSource(BaseModel):
    """A public trace file (name in ../shared/data/traces), rate-multiplied and/or time-scaled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    rate_factor: float = Field(default=1.0, gt=0)
    time_scale: float = Field(default=1.0, gt=0)
    jitter_s: float = Field(default=30.0, ge=0)


class SyntheticSource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    shape: RateShape
    tokens: str | TokenDist = "azure-conv"
    arrivals: Literal["poisson", "gamma"] = "poisson"
    cv: float = Field(default=1.0, gt=0)

    def token_dist(self) -> TokenDist:
        if isinstance(self.tokens, TokenDist):
            return self.tokens
        if self.tokens not in TOKEN_PRESETS:
            raise ValueError(f"unknown tokens preset {self.tokens!r}; known: {sorted(TOKEN_PRESETS)}")
        return TOKEN_PRESETS[self.tokens]


class Workload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trace: TraceSource | None = None
    synthetic: SyntheticSource | None = None
    start_s: float = Field(default=0.0, ge=0)  # window into the source (after transforms)

    @model_validator(mode="after")
    def _one_source(self) -> Workload:
        if (self.trace is None) == (self.synthetic is None):
            raise ValueError("workload needs exactly one of 'trace' or 'synthetic'")
        return self


class VariantSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    profile: str
    startup_s: float | None = Field(default=None, ge=0)
    cost_per_replica: float | None = Field(default=None, gt=0)
    min_replicas: int = Field(default=0, ge=0)
    max_replicas: int = Field(default=100, ge=1)
    initial_replicas: int = Field(default=1, ge=0)


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    slo_class: Literal["strict", "standard", "relaxed"] = "standard"
    priority: int = Field(default=100, ge=0, le=1000)
    workload: Workload
    variants: list[VariantSpec] = Field(min_length=1)


class StepSpec(BaseModel):
    """A known demand step, for the reaction-time metric."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    at_s: float
    to_rps: float


class QuickOverrides(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    duration_s: float | None = None
    seeds: list[int] | None = None
    include: bool = True
    sweep: dict[str, list[Any]] | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    duration_s: float = Field(gt=0)
    scrape_interval_s: float = Field(default=15.0, gt=0)
    record_interval_s: float = Field(default=10.0, gt=0)
    seeds: list[int] = Field(default_factory=lambda: [1, 2, 3])
    gpu_budget: dict[str, int] | None = None
    models: list[ModelSpec] = Field(min_length=1)
    step: StepSpec | None = None
    policies: list[str] | None = None
    oracle_interval_s: float = Field(default=10.0, gt=0)
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    quick: QuickOverrides = Field(default_factory=QuickOverrides)
    kind: Literal["simulation", "control-plane"] = "simulation"
    control_plane_sizes: list[int] = Field(default_factory=lambda: [10, 100, 1000, 10000])
    fidelity: Fidelity = Field(default_factory=Fidelity)
    profile_error: float = Field(default=0.0, gt=-1.0, lt=1.0)  # the served engine is this much slower than its profile

    def variants(self) -> list[tuple[ModelSpec, VariantSpec]]:
        return [(m, v) for m in self.models for v in m.variants]

    def profile_of(self, variant: VariantSpec, profiles: Mapping[str, Profile]) -> Profile:
        """The profile the simulated engine really has: the named one, `profile_error` slower (or faster)."""
        if variant.profile not in profiles:
            raise ValueError(f"scenario {self.name}: variant {variant.name} has unknown profile {variant.profile!r}")
        prof = profiles[variant.profile]
        if self.profile_error == 0.0:
            return prof
        e = 1.0 + self.profile_error
        return prof.model_copy(
            update={
                "alpha_ms": prof.alpha_ms * e,
                "beta_ms": prof.beta_ms * e,
                "gamma_ms_per_1k_kv": prof.gamma_ms_per_1k_kv * e,
                "prefill_tokens_per_s": prof.prefill_tokens_per_s / e,
                "id": f"{prof.id}{self.profile_error:+.2f}",
            }
        )


SWEEP_KEYS = ("startup_s", "profile_error")


def _with_startup(scn: Scenario, startup_s: float) -> Scenario:
    models = [
        m.model_copy(update={"variants": [v.model_copy(update={"startup_s": startup_s}) for v in m.variants]})
        for m in scn.models
    ]
    return scn.model_copy(update={"models": models})


def expand(scn: Scenario, quick: bool) -> list[Scenario]:
    """Apply quick overrides and expand the sweep (supported key: `startup_s`)."""
    if quick:
        upd: dict[str, Any] = {}
        if scn.quick.duration_s is not None:
            upd["duration_s"] = scn.quick.duration_s
        if scn.quick.seeds is not None:
            upd["seeds"] = scn.quick.seeds
        if scn.quick.sweep is not None:
            upd["sweep"] = scn.quick.sweep
        scn = scn.model_copy(update=upd)
    if not scn.sweep:
        return [scn]
    unknown = set(scn.sweep) - set(SWEEP_KEYS)
    if unknown or len(scn.sweep) != 1:
        raise ValueError(f"scenario {scn.name}: sweep takes exactly one of {list(SWEEP_KEYS)}, got {sorted(scn.sweep)}")
    out: list[Scenario] = []
    key, values = next(iter(scn.sweep.items()))
    for value in values:
        if key == "startup_s":
            child = _with_startup(scn, float(value))
            out.append(child.model_copy(update={"name": f"{scn.name}-d{int(value)}", "sweep": {}}))
        else:
            name = f"{scn.name}-e{round(100 * float(value)):+d}"
            out.append(scn.model_copy(update={"name": name, "profile_error": float(value), "sweep": {}}))
    return out


def load_scenario(path: Path) -> Scenario:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    try:
        return Scenario.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"invalid scenario {path}: {exc}") from exc


def load_scenarios(directory: Path) -> dict[str, Scenario]:
    out: dict[str, Scenario] = {}
    for path in sorted(directory.glob("*.yaml")):
        scn = load_scenario(path)
        out[scn.name] = scn
    return out


def build_trace(workload: Workload, duration_s: float, traces_dir: Path, seed: int) -> Trace:
    """The requests of one model for one seed, cut to [start_s, start_s + duration_s)."""
    if workload.trace is not None:
        src = workload.trace
        base = load_trace(traces_dir / src.file)
        if src.time_scale != 1.0:
            base = base.time_scaled(src.time_scale)
        if src.rate_factor != 1.0:
            base = rate_multiplied(base, src.rate_factor, src.jitter_s, seed)
        return base.window(workload.start_s, workload.start_s + duration_s)
    assert workload.synthetic is not None
    syn = workload.synthetic
    trace = synthesize(
        syn.shape,
        workload.start_s + duration_s,
        syn.token_dist(),
        arrivals=syn.arrivals,
        cv=syn.cv,
        seed=seed,
        grid_s=1.0 if duration_s <= 4 * 3600 else 10.0,
    )
    return trace.window(workload.start_s, workload.start_s + duration_s)


def all_profiles() -> Mapping[str, Profile]:
    return load_profiles()
