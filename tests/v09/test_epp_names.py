"""EPP signal names against a real Prometheus: the flow-control queue is read under both the name WVA reads
(`inference_extension_flow_control_queue_*`) and the name the llm-d guides use (`llm_d_epp_*`), and a queue
exported under both names (same labels) counts once."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.adapters.conftest import local_prometheus  # noqa: F401  (the session fixture)
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.core.ports import ModelGroupRef
from wva_ray.testing.prometheus_server import LocalPrometheus

pytestmark = [pytest.mark.integration]


def test_flow_control_queue_under_either_epp_name(local_prometheus: LocalPrometheus) -> None:  # noqa: F811
    reg = CollectorRegistry()
    labels = ["target_model_name", "model_name", "inference_pool"]
    old = Gauge("inference_extension_flow_control_queue_size", "queue", labels, registry=reg)
    new = Gauge("llm_d_epp_flow_control_queue_size", "queue", labels, registry=reg)
    old.labels("m-old", "m-old", "pool").set(2)
    new.labels("m-new", "m-new", "pool").set(3)
    old.labels("m-both", "m-both", "pool").set(1)
    new.labels("m-both", "m-both", "pool").set(1)
    server, _thread = start_http_server(0, addr="127.0.0.1", registry=reg)
    try:
        local_prometheus.write_targets(
            [{"targets": [f"127.0.0.1:{server.server_port}"], "labels": {"namespace": "epp-ns", "pod": "epp"}}]
        )
        source = PrometheusMetricsSource(PrometheusSettings(base_url=local_prometheus.url))
        groups = [ModelGroupRef("epp-ns", m) for m in ("m-old", "m-new", "m-both")]
        deadline = time.monotonic() + 60
        sizes: dict[str, float] = {}
        while time.monotonic() < deadline:
            rows = asyncio.run(source.flow_control_queues(groups))
            sizes = {r.model_name: r.size for r in rows}
            if len(sizes) == 3:
                break
            time.sleep(0.5)
        source.close()
        assert sizes == {"m-old": 2.0, "m-new": 3.0, "m-both": 1.0}
    finally:
        local_prometheus.write_targets([])
        server.shutdown()
        server.server_close()
