"""Fixtures of the real-engine tests: the vLLM engine environment (installed by scripts/setup.d/40-vllm-engine.sh),
one real engine shared by the session (its start-up costs 40-140 s here), and a real Prometheus scraping it.

A missing or broken engine environment FAILS these tests (CI installs it through `make test`); it never skips.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.conftest import ensure_prometheus
from wva_ray.testing.prometheus_server import LocalPrometheus, LocalPrometheusConfig
from wva_ray.testing.vllm_engine import EngineEnv, EngineEnvError, EngineSpec, VllmEngine, VllmFleet

NAMESPACE = "llm"
TARGET = "tiny"
# 8 running at most, 64 KV blocks of 32 tokens: 100-token prompts + 64 outputs queue past 8 concurrent clients.
SPEC = EngineSpec(max_num_seqs=8, num_gpu_blocks=64, block_size=32, max_model_len=1024)
READY_TIMEOUT_S = 420.0


@pytest.fixture(scope="session")
def engine_env() -> EngineEnv:
    try:
        return EngineEnv.locate()
    except EngineEnvError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def fleet(engine_env: EngineEnv) -> Iterator[VllmFleet]:
    workdir = Path(tempfile.mkdtemp(prefix="wva-vllm-"))
    with VllmFleet(engine_env, SPEC, workdir, target=TARGET, namespace=NAMESPACE, max_engines=2) as f:
        yield f


@pytest.fixture(scope="session")
def warm_engine(fleet: VllmFleet) -> VllmEngine:
    """The session's first engine, started once and shared (tests must leave it idle when they finish)."""
    engine = fleet.start_engine(f"{TARGET}-warm")
    engine.wait_ready(READY_TIMEOUT_S)
    return engine


@pytest.fixture(scope="session")
def prometheus() -> Iterator[LocalPrometheus]:
    ensure_prometheus()
    prom = LocalPrometheus(Path(tempfile.mkdtemp(prefix="wva-vllm-prom-")), config=LocalPrometheusConfig())
    prom.start()
    try:
        yield prom
    finally:
        prom.stop()
