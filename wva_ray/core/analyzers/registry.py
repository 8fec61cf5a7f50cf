"""The analyzer registry: `analyzerName` (the merged saturation entry's field) -> the analyzer that sizes the
group. Pure. To add an analyzer: one new module implementing `core.analyzers.base.Analyzer`, one line below, and
its name in `wva_ray.api.config.AnalyzerName` (the wire schema; a test checks the two agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from wva_ray.core.analyzers.base import Analyzer
from wva_ray.core.analyzers.learned.stage import LearnedAnalyzer
from wva_ray.core.analyzers.slo.stage import SloAnalyzer
from wva_ray.core.analyzers.throughput import ThroughputAnalyzer
from wva_ray.core.analyzers.v1 import V1Analyzer
from wva_ray.core.analyzers.v2 import V2Analyzer

DEFAULT_ANALYZER = ""

ANALYZERS: Mapping[str, Analyzer] = MappingProxyType(
    {
        DEFAULT_ANALYZER: V1Analyzer(),  # upstream's default: spare KV / queue (wva-behaviour 3.2)
        "saturation": V2Analyzer(),  # token capacity and the cost-aware optimizer (3.3)
        "slo": SloAnalyzer(),  # SLO sizing with V2 as safety net
        "throughput": ThroughputAnalyzer(),  # v0.9: ITL(k) fit, supply and demand in output tokens/s
        "learned": LearnedAnalyzer(),  # learns each variant online, sizes for the distribution; V2 combined (v0.9)
    }
)


def analyzer_for(name: str) -> Analyzer:
    """The analyzer registered under `name`; the default (V1) for a name nobody registered (upstream falls back to
    V1 the same way; config validation already reports an unknown `analyzerName`)."""
    return ANALYZERS.get(name, ANALYZERS[DEFAULT_ANALYZER])
