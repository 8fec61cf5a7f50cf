"""Plotting (matplotlib) is the optional `plot` extra: the controller, `wva-ray plan` and the Serve policies run
without it, the reports that draw say which extra to install, and `.[dev]` (what `make test` and `make demo`
install) includes it."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.packaging.tools import REPO

BLOCK_MATPLOTLIB = "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_MATPLOTLIB + code], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def test_plot_is_an_extra_that_dev_includes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("matplotlib")]
    extras = project["optional-dependencies"]
    assert [d for d in extras["plot"] if d.startswith("matplotlib")]
    assert "wva-ray[plot]" in extras["dev"]


def test_plan_and_every_command_module_import_without_matplotlib() -> None:
    code = (
        "import wva_ray.cli, wva_ray.runtime.controller, wva_ray.serve.policy, wva_ray.sim.bench.runner\n"
        "import wva_ray.demo.runner\n"
        "from wva_ray.cli import app\n"
        "app(['plan', 'examples/snapshot.json', '--format', 'json'], standalone_mode=False)\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert '"decisions"' in proc.stdout


def test_drawing_without_the_extra_names_it() -> None:
    proc = _python("from wva_ray.sim.plotting import pyplot\npyplot()\n")
    assert proc.returncode != 0
    assert "pip install 'wva-ray[plot]'" in proc.stderr
