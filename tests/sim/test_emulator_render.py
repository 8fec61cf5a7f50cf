"""The fast exposition renderer gives exactly the bytes of prometheus_client's generate_latest."""

from __future__ import annotations

import pytest

from wva_ray.sim.emulator.metrics import PodView, Script, ServedTotals, render_exposition_reference, scripted_view
from wva_ray.sim.emulator.render import ExpositionRenderer, render_exposition


def _view(model: str, engine: str, served: int, t_s: float, rate: float) -> PodView:
    totals = ServedTotals()
    for i in range(served):
        totals.record(100 + 37 * i, 1 + 5 * i, 0.01 * i, 0.05 + 0.3 * i, 0.011 * (i + 1), 0.4 + 1.7 * i)
    script = Script(request_rate_per_s=rate, prompt_tokens=4096, output_tokens=333)
    prompt, gen, success, hist = scripted_view(totals, script, t_s)
    return PodView(model, engine, 7.0, 3.0, 0.123456789, prompt, gen, success, hist, 123456, 32, 1795815271.809478)


@pytest.mark.parametrize(
    ("model", "engine", "served", "t_s", "rate"),
    [
        pytest.param("m1", "0", 0, 0.0, 0.0, id="empty"),
        pytest.param("meta-llama/Llama-3.1-8B", "1", 5, 12.5, 3.0, id="served-and-scripted"),
        pytest.param('we"ird\\mo\ndel', "0", 2, 1e6, 1000.0, id="escaped-label-and-large-counters"),
    ],
)
def test_fast_renderer_is_byte_identical_to_generate_latest(
    model: str, engine: str, served: int, t_s: float, rate: float
) -> None:
    view = _view(model, engine, served, t_s, rate)
    assert ExpositionRenderer(model, engine).render(view) == render_exposition_reference(view)
    assert render_exposition(view) == render_exposition_reference(view)


def test_renderer_refuses_another_pods_view() -> None:
    with pytest.raises(ValueError, match="model_name='m2'"):
        ExpositionRenderer("m1", "0").render(_view("m2", "0", 0, 0.0, 0.0))
