"""matplotlib, imported on first use: plotting is the optional `plot` extra (`pip install 'wva-ray[plot]'`, which
`.[dev]` and therefore `make test` and `make demo` include), needed only by the benchmark and demo reports. The
controller, `wva-ray plan` and the Serve policies never import it. No I/O."""

from __future__ import annotations

from typing import Any

PLOT_EXTRA_HINT = "plots need matplotlib, the optional `plot` extra: pip install 'wva-ray[plot]'"


def pyplot() -> Any:
    """`matplotlib.pyplot` on the non-interactive Agg backend; a clear error when the extra is not installed."""
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(PLOT_EXTRA_HINT) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
