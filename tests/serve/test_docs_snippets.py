"""The configuration snippets of docs/ray-serve.md: the CPU ones are deployed on a real Serve and must scale as the
document says; the `ray.serve.llm` one (vLLM cannot run here) must validate as a Serve config whose autoscaling
policy Serve can resolve and instantiate."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.serve.harness import ClosedLoopLoad, running_replicas, wait_until

DOC = REPO_ROOT / "docs" / "ray-serve.md"


def snippet(name: str, doc: Path = DOC) -> dict[str, Any]:
    """The YAML block that follows `<!-- snippet: name -->` in the document."""
    match = re.search(rf"<!-- snippet: {re.escape(name)} -->\s*```yaml\n(.*?)```", doc.read_text(), re.S)
    if match is None:
        raise AssertionError(f"{doc}: no yaml block after '<!-- snippet: {name} -->'")
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def deploy_config(config: dict[str, Any]) -> None:
    """What `serve run config.yaml` / `serve deploy` do: hand the validated config to the controller."""
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    _get_global_client().deploy_apps(ServeDeploySchema.model_validate(config), _blocking=True)


def test_llm_config_snippet_resolves_to_our_policy() -> None:
    from ray.serve.config import AutoscalingConfig
    from ray.serve.schema import ServeDeploySchema

    from wva_ray.serve.policy import WvaSaturationPolicy

    config = snippet("llm-config")
    ServeDeploySchema.model_validate(config)
    llm = config["applications"][0]["args"]["llm_configs"][0]
    autoscaling = AutoscalingConfig(**llm["deployment_config"]["autoscaling_config"])
    policy_cls = autoscaling.policy.get_policy()  # what the Serve controller unpickles
    assert policy_cls.__name__ == "WvaSaturationPolicy"
    policy = WvaSaturationPolicy(**autoscaling.policy.policy_kwargs)
    assert policy.settings.mode == "prometheus"
    assert policy.settings.saturation.kv_cache_threshold == 0.8


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_cpu_demo_snippet_scales_up_and_back(serve_started: None) -> None:
    from ray import serve

    config = snippet("cpu-demo")
    app = config["applications"][0]["name"]
    deploy_config(config)
    try:
        with ClosedLoopLoad(serve.get_app_handle(app), concurrency=12) as load:
            wait_until(lambda: running_replicas(app, "FakeLLM") >= 3, 60, "docs cpu-demo: 1 -> 3 under load")
            assert not load.errors
        wait_until(lambda: running_replicas(app, "FakeLLM") == 1, 60, "docs cpu-demo: back to 1")
    finally:
        serve.delete(app, _blocking=True)


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_multi_variant_snippet_scales_cheapest_first(serve_started: None) -> None:
    """Invariant at every sample: the expensive variant (h100) is above 1 only while the cheap one (a100) is
    at its max of 3 — up (cheapest first) and down (most expensive first)."""
    from ray import serve

    config = snippet("multi-variant")
    app = config["applications"][0]["name"]
    deploy_config(config)
    samples: list[tuple[int, int]] = []

    def sample() -> tuple[int, int]:
        pair = (running_replicas(app, "a100"), running_replicas(app, "h100"))
        samples.append(pair)
        return pair

    try:
        with ClosedLoopLoad(serve.get_app_handle(app), concurrency=20) as load:
            wait_until(lambda: sample()[1] >= 2, 90, "h100 to scale up after a100 is at its max")
            assert not load.errors
        wait_until(lambda: sample() == (1, 1), 60, "both variants back to 1")
    finally:
        serve.delete(app, _blocking=True)
    violations = [(a100, h100) for a100, h100 in samples if h100 > 1 and a100 < 3]
    assert not violations, f"expensive variant scaled while the cheap one had room: {violations[:5]}"
    assert max(a for a, _ in samples) == 3
