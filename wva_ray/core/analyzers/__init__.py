"""wva_ray.core.analyzers: one protocol (`base.Analyzer`: a model group, its settings and state in, one `Sizing`
out) and a registry keyed by `analyzerName` (`registry`); V1 (`v1`), V2 (`v2`) and SLO (`slo`) implement it. Pure.
"""
