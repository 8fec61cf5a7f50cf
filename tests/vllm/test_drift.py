"""Drift check: the emulator's `/metrics` against a REAL vLLM engine's, for every series the emulator exposes
(which includes every series wva-ray reads): same metric names, types, label names and histogram bucket
boundaries. Fails when either side changes (a vLLM upgrade, or an emulator edit).

Two rules are checked instead of equality: the token-count histograms' buckets are vLLM's 1-2-5 series up to
`max_model_len` (the engine runs with 1,024, the emulator models 131,072), and `cache_config_info` carries every
CacheConfig field as a label in vLLM: the emulator's labels must be a subset, with the ones wva-ray joins on.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.vllm.conftest import SPEC
from wva_ray.sim.emulator.metrics import DEFAULT_MAX_MODEL_LEN, token_buckets
from wva_ray.sim.emulator.server import PodSpec
from wva_ray.sim.emulator.thread import EmulatorThread
from wva_ray.testing.vllm_engine import VllmEngine

pytestmark = [pytest.mark.vllm, pytest.mark.integration, pytest.mark.timeout(600)]

MODEL = SPEC.served_model_name
# What wva-ray's collector (adapters/prometheus/queries.py, adapters/scrape.py) and the Serve policy read.
READ_BY_WVA_RAY = {
    "vllm:kv_cache_usage_perc",
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
    "vllm:cache_config_info",
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
    "vllm:request_success",
}
TOKEN_HISTOGRAMS = {"vllm:request_prompt_tokens", "vllm:request_generation_tokens"}
CACHE_INFO = "vllm:cache_config_info"
JOIN_LABELS = {"block_size", "num_gpu_blocks", "engine"}


@dataclass(frozen=True)
class Family:
    type: str
    labels: frozenset[str]  # label names of the family's value samples (without `le`)
    buckets: tuple[float, ...]  # histogram upper bounds without +Inf


def families(text: str) -> dict[str, Family]:
    out: dict[str, Family] = {}
    for fam in text_string_to_metric_families(text):
        if not fam.name.startswith("vllm:") or fam.name.endswith("_created"):
            continue
        labels: set[str] = set()
        bounds: set[float] = set()
        for s in fam.samples:
            if s.name.endswith("_created"):
                continue
            labels |= set(s.labels) - {"le"}
            if s.name.endswith("_bucket") and s.labels["le"] != "+Inf":
                bounds.add(float(s.labels["le"]))
        out[fam.name] = Family(fam.type, frozenset(labels), tuple(sorted(bounds)))
    return out


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10.0) as resp:
        return resp.read().decode("utf-8")


@pytest.fixture(scope="module")
def both(warm_engine: VllmEngine) -> Iterator[tuple[dict[str, Family], dict[str, Family]]]:
    real = families(_get(warm_engine.metrics_url))
    with EmulatorThread() as emu:
        pod = emu.start_pod(PodSpec(name="drift-0", model=MODEL))
        emulated = families(_get(f"{pod.url}/metrics"))
    yield real, emulated


def test_the_emulator_exposes_everything_wva_ray_reads(both: tuple[dict[str, Family], dict[str, Family]]) -> None:
    real, emulated = both
    assert set(real) >= READ_BY_WVA_RAY, sorted(READ_BY_WVA_RAY - set(real))
    assert set(emulated) >= READ_BY_WVA_RAY, sorted(READ_BY_WVA_RAY - set(emulated))


def test_every_emulated_series_matches_the_real_engine(both: tuple[dict[str, Family], dict[str, Family]]) -> None:
    real, emulated = both
    missing = sorted(set(emulated) - set(real))
    assert not missing, f"the emulator exposes series real vLLM does not: {missing}"
    drift: list[str] = []
    for name, emu in sorted(emulated.items()):
        got = real[name]
        if emu.type != got.type:
            drift.append(f"{name}: type emulator {emu.type} != vLLM {got.type}")
        if name == CACHE_INFO:
            if not emu.labels <= got.labels:
                drift.append(f"{name}: labels only in the emulator: {sorted(emu.labels - got.labels)}")
            if not emu.labels & got.labels >= JOIN_LABELS or "model_name" in emu.labels | got.labels:
                drift.append(f"{name}: join labels emulator {sorted(emu.labels)} vLLM {sorted(got.labels)}")
        elif emu.labels != got.labels:
            drift.append(f"{name}: labels emulator {sorted(emu.labels)} != vLLM {sorted(got.labels)}")
        if name in TOKEN_HISTOGRAMS:
            if got.buckets != token_buckets(SPEC.max_model_len):
                drift.append(f"{name}: vLLM buckets {got.buckets} are not the 1-2-5 series to {SPEC.max_model_len}")
            if emu.buckets != token_buckets(DEFAULT_MAX_MODEL_LEN):
                drift.append(f"{name}: emulator buckets {emu.buckets} are not the 1-2-5 series")
        elif emu.buckets != got.buckets:
            drift.append(f"{name}: buckets emulator {emu.buckets} != vLLM {got.buckets}")
    assert not drift, "\n".join(drift)
