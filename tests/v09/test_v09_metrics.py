"""WVA v0.9 metric names exported by wva-ray: `wva_pod_mapping_miss_total{namespace, reason[, controller_instance]}`."""

from __future__ import annotations

from wva_ray.adapters.gauges import GaugeExporter


def test_pod_mapping_miss_counter_has_upstreams_name_and_labels() -> None:
    g = GaugeExporter(controller_instance="blue")
    g.count_pod_mapping_misses(
        [("llm", "no_managed_owner"), ("llm", "no_managed_owner"), ("b", "variant_label_unmatched")]
    )
    text = g.render().decode()
    assert (
        'wva_pod_mapping_miss_total{controller_instance="blue",namespace="llm",reason="no_managed_owner"} 2.0' in text
    )
    assert (
        'wva_pod_mapping_miss_total{controller_instance="blue",namespace="b",reason="variant_label_unmatched"} 1.0'
        in text
    )
