"""The Prometheus collector against a REAL Prometheus (Debian package) scraping emulated vLLM pods."""

from __future__ import annotations

import asyncio
import http.server
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.adapters.conftest import MetricsLab, ensure_prometheus, poll
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.ports import MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery
from wva_ray.sim.emulator.metrics import Script, Signal
from wva_ray.sim.emulator.server import PodSpec
from wva_ray.testing.prometheus_server import LocalPrometheus, LocalPrometheusConfig

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _source(url: str, **kwargs: object) -> PrometheusMetricsSource:
    return PrometheusMetricsSource(PrometheusSettings(base_url=url, retries=1, backoff_s=0.05, **kwargs))


def _rows(src: PrometheusMetricsSource, groups: list[ModelGroupRef]) -> list[PodMetrics]:
    return asyncio.run(src.pod_metrics(groups))


def _scripted(name: str, model: str, ns: str, kv: float, waiting: float, prompt: int, output: int) -> PodSpec:
    script = Script(
        kv_cache_usage=Signal("fixed", kv),
        num_requests_waiting=Signal("fixed", waiting),
        num_requests_running=Signal("fixed", 2.0),
        request_rate_per_s=5.0,
        prompt_tokens=prompt,
        output_tokens=output,
        num_gpu_blocks=1000 + len(name),
        block_size=16,
    )
    return PodSpec(name=name, model=model, namespace=ns, script=script)


def _exposed(url: str) -> dict[str, float | dict[str, str]]:
    """What the pod's /metrics says (parsed by prometheus_client's text parser)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float | dict[str, str]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in ("vllm:kv_cache_usage_perc", "vllm:num_requests_waiting"):
                out[s.name] = s.value
            if s.name == "vllm:cache_config_info":
                out[s.name] = dict(s.labels)
    return out


def test_collector_returns_exactly_what_the_emulators_expose(metrics_lab: MetricsLab) -> None:
    ns = "it-exact"
    pods = metrics_lab.start_pods(
        [
            _scripted("exact-a", "m-exact", ns, 0.25, 0, 300, 40),
            _scripted("exact-b", "m-exact", ns, 0.5, 3, 300, 40),
            _scripted("exact-c", "m-exact", ns, 0.875, 7, 300, 40),
            _scripted("other-a", "m-other", ns, 0.9, 9, 100, 10),  # same namespace, model not asked for
        ]
    )
    src = _source(metrics_lab.prometheus.url)
    group = [ModelGroupRef(ns, "m-exact")]

    def ready() -> list[PodMetrics] | None:
        rows = _rows(src, group)
        complete = len(rows) == 3 and all(r.avg_input_tokens is not None and not r.stale for r in rows)
        return rows if complete else None

    rows = poll(ready, 40, what="3 fresh rows with token averages")
    by_pod = {r.pod: r for r in rows}
    assert sorted(by_pod) == ["exact-a", "exact-b", "exact-c"]
    for pod in pods[:3]:
        exposed = _exposed(pod.url)
        row = by_pod[pod.spec.name]
        assert row.namespace == ns and row.model_name == "m-exact"
        assert row.kv_cache_usage == exposed["vllm:kv_cache_usage_perc"]
        assert row.queue_length == exposed["vllm:num_requests_waiting"]
        info = exposed["vllm:cache_config_info"]
        assert isinstance(info, dict) and "model_name" not in info
        assert (row.num_gpu_blocks, row.block_size) == (int(info["num_gpu_blocks"]), int(info["block_size"]))
        assert row.avg_input_tokens == pytest.approx(300.0)
        assert row.avg_output_tokens == pytest.approx(40.0)
        assert row.running == pytest.approx(2.0)
    counts = asyncio.run(src.request_counts([ScaleToZeroQuery(group[0], 600)]))
    assert [(c.namespace, c.model_name) for c in counts] == [(ns, "m-exact")]
    assert counts[0].count > 0
    # Both models in one call: still one query per signal, rows for both.
    before = src.queries_sent
    both = _rows(src, [*group, ModelGroupRef(ns, "m-other")])
    assert src.queries_sent - before == 8
    assert {r.model_name for r in both} == {"m-exact", "m-other"}


@pytest.mark.parametrize(
    "keep_target",
    [pytest.param(True, id="scrapes-fail"), pytest.param(False, id="removed-from-discovery")],
)
def test_stopped_pod_series_stop_counting(metrics_lab: MetricsLab, keep_target: bool) -> None:
    ns = f"it-stop-{keep_target}".lower()
    metrics_lab.start_pods(
        [_scripted(f"{ns}-live", "m-stop", ns, 0.3, 1, 100, 10), _scripted(f"{ns}-dead", "m-stop", ns, 0.6, 2, 100, 10)]
    )
    src = _source(metrics_lab.prometheus.url)
    group = [ModelGroupRef(ns, "m-stop")]
    poll(lambda: len([r for r in _rows(src, group) if not r.stale]) == 2, 40, what="two fresh pods")
    metrics_lab.stop_pod(f"{ns}-dead", keep_target=keep_target)

    def dead_is_stale() -> list[PodMetrics] | None:
        rows = {r.pod: r for r in _rows(src, group)}
        dead = rows.get(f"{ns}-dead")
        return list(rows.values()) if dead is None or dead.stale else None

    rows = {r.pod: r for r in poll(dead_is_stale, 30, what="the stopped pod to turn stale")}
    assert rows[f"{ns}-live"].stale is False
    # Still inside max_over_time's minute the row may exist, but only as stale: never counted as live.
    assert [r.pod for r in rows.values() if not r.stale] == [f"{ns}-live"]


def test_hostile_model_names_cannot_break_or_widen_queries(metrics_lab: MetricsLab) -> None:
    ns = "it-hostile"
    hostile = 'we"ird\\model'
    regexy = ".*"
    metrics_lab.start_pods(
        [
            _scripted("hostile-a", hostile, ns, 0.4, 1, 100, 10),
            _scripted("regexy-a", regexy, ns, 0.5, 2, 100, 10),
            _scripted("plain-a", "plain", ns, 0.6, 3, 100, 10),
        ]
    )
    src = _source(metrics_lab.prometheus.url)
    poll(lambda: len(_rows(src, [ModelGroupRef(ns, m) for m in (hostile, regexy, "plain")])) == 3, 40, what="3 pods")
    assert [(r.model_name, r.pod) for r in _rows(src, [ModelGroupRef(ns, hostile)])] == [(hostile, "hostile-a")]
    assert [(r.model_name, r.pod) for r in _rows(src, [ModelGroupRef(ns, regexy)])] == [(regexy, "regexy-a")]
    injection = 'plain"} or vector(1) or {__name__=~".+'
    assert _rows(src, [ModelGroupRef(ns, injection)]) == []


def test_prometheus_stopped_raises_metrics_unavailable() -> None:
    ensure_prometheus()
    workdir = Path(tempfile.mkdtemp(prefix="wva-prom-down-"))
    prom = LocalPrometheus(workdir)
    try:
        prom.start()
        src = _source(prom.url)
        assert _rows(src, [ModelGroupRef("ns", "m")]) == []  # up, no data: an empty frame, no error
        prom.stop()
        with pytest.raises(MetricsUnavailableError, match="query"):
            _rows(src, [ModelGroupRef("ns", "m")])
        with pytest.raises(MetricsUnavailableError):
            asyncio.run(src.request_counts([ScaleToZeroQuery(ModelGroupRef("ns", "m"), 600)]))
    finally:
        prom.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class _BearerProxy:
    """A tiny HTTP proxy in front of Prometheus that accepts exactly one bearer token (changeable)."""

    def __init__(self, upstream: str) -> None:
        self.accepted = ""
        self.seen: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                proxy.seen.append(auth)
                if auth != f"Bearer {proxy.accepted}":
                    self.send_response(401)
                    self.end_headers()
                    return
                with urllib.request.urlopen(upstream + self.path, timeout=10) as resp:
                    body = resp.read()
                    self.send_response(resp.status)
                    self.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bearer_proxy(local_prometheus: LocalPrometheus) -> Iterator[_BearerProxy]:
    proxy = _BearerProxy(local_prometheus.url)
    yield proxy
    proxy.close()


def test_rotated_token_file_is_used_on_next_query(bearer_proxy: _BearerProxy, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("token-one\n")
    bearer_proxy.accepted = "token-one"
    src = _source(bearer_proxy.url, token_path=token_file)
    group = [ModelGroupRef("ns", "m")]
    assert _rows(src, group) == []
    bearer_proxy.accepted = "token-two"  # the server rotates first: the old token is refused (401, no retry)
    with pytest.raises(MetricsUnavailableError, match="401"):
        _rows(src, group)
    token_file.write_text("token-two-rotated\n")  # then the projected token file changes
    bearer_proxy.accepted = "token-two-rotated"
    assert _rows(src, group) == []
    assert bearer_proxy.seen[-1] == "Bearer token-two-rotated"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def mtls_dir() -> Iterator[Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is required for the TLS test")
    d = Path(tempfile.mkdtemp(prefix="wva-tls-"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        str(d / "ca.key"),
        "-out",
        str(d / "ca.crt"),
        "-days",
        "2",
        "-subj",
        "/CN=wva-test-ca",
    )
    for name, ext in (("server", "subjectAltName=DNS:prom.test"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"), "-subj", f"/CN={name}")
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl(
            "x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
            "-CAcreateserial", "-out", str(d / f"{name}.crt"), "-days", "2", "-extfile", str(d / f"{name}.ext"),
        )  # fmt: skip
    (d / "web.yml").write_text(
        "tls_server_config:\n"
        f"  cert_file: {d / 'server.crt'}\n  key_file: {d / 'server.key'}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {d / 'ca.crt'}\n"
    )
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_https_with_ca_bundle_client_cert_and_server_name(mtls_dir: Path) -> None:
    ensure_prometheus()
    workdir = Path(tempfile.mkdtemp(prefix="wva-prom-tls-"))
    prom = LocalPrometheus(workdir, config=LocalPrometheusConfig(web_config_file=mtls_dir / "web.yml"))
    try:
        prom.start()
        assert prom.url.startswith("https://127.0.0.1:")
        tls = {
            "ca_cert_path": mtls_dir / "ca.crt",
            "client_cert_path": mtls_dir / "client.crt",
            "client_key_path": mtls_dir / "client.key",
        }
        group = [ModelGroupRef("ns", "m")]
        assert _rows(_source(prom.url, server_name="prom.test", **tls), group) == []
        with pytest.raises(MetricsUnavailableError):  # the certificate names prom.test, not 127.0.0.1
            _rows(_source(prom.url, **tls), group)
        with pytest.raises(MetricsUnavailableError):  # no client certificate
            _rows(_source(prom.url, server_name="prom.test", ca_cert_path=mtls_dir / "ca.crt"), group)
    finally:
        prom.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_prometheus_stores_the_colon_names(metrics_lab: MetricsLab) -> None:
    """The colon trap: scraped through real Prometheus, the series keep `vllm:` (not `vllm_`) names."""
    metrics_lab.start_pods([_scripted("colon-a", "m-colon", "it-colon", 0.1, 0, 100, 10)])
    src = _source(metrics_lab.prometheus.url)
    http = src._http

    def names() -> set[str] | None:
        result = http.query('group by (__name__) ({namespace="it-colon"})', time.time(), "names")
        found = {str(r["metric"]["__name__"]) for r in result}
        return found if "vllm:kv_cache_usage_perc" in found else None

    found = poll(names, 40, what="the colon-named series")
    assert {"vllm:num_requests_waiting", "vllm:cache_config_info", "vllm:request_success_total"} <= found
    assert not any(n.startswith("vllm_") for n in found)


def test_decisions_follow_real_metrics_and_hold_when_prometheus_stops(metrics_lab: MetricsLab) -> None:
    """Collector -> core.decide: saturated pods scale up; with Prometheus down the previous desired is held."""
    from tests.core.builders import V, snapshot_dict
    from wva_ray.api.snapshot import Snapshot
    from wva_ray.core import decide

    ns, model = "it-decide", "m-decide"
    pods = [_scripted(f"hot-{i}", model, ns, 0.95, 8, 100, 10) for i in range(2)]
    metrics_lab.emulator.start_pod(pods[0])
    metrics_lab.emulator.start_pod(pods[1])
    workdir = Path(tempfile.mkdtemp(prefix="wva-prom-decide-"))
    prom = LocalPrometheus(workdir)
    try:
        prom.write_targets([t for t in metrics_lab.emulator.file_sd_targets() if t["labels"]["namespace"] == ns])
        prom.start()
        src = _source(prom.url)
        group = [ModelGroupRef(ns, model)]

        def both_fresh() -> list[PodMetrics] | None:
            rows = _rows(src, group)
            return rows if len(rows) == 2 and not any(r.stale for r in rows) else None

        rows = poll(both_fresh, 40, what="two hot pods")
        variant = V("hot", [(0.0, 0.0), (0.0, 0.0)], model=model, namespace=ns, desired=2)

        def decided(metrics: list[PodMetrics], error: str | None) -> tuple[int, list[str]]:
            data = snapshot_dict(variant)
            data["metrics"] = [m.model_dump(by_alias=True, mode="json", exclude_none=True) for m in metrics]
            if error is not None:
                data["metricsError"] = error
            (d,) = decide(Snapshot.model_validate(data)).decisions
            return d.desired_replicas, [f"{c.type}={c.status.value}/{c.reason}" for c in d.conditions]

        desired, conditions = decided(rows, None)
        assert desired == 3, conditions  # both pods saturated (kv 0.95, queue 8): one step up
        prom.stop()
        with pytest.raises(MetricsUnavailableError) as err:
            _rows(src, group)
        desired, conditions = decided([], str(err.value))
        assert desired == 2  # held at the previous desired, never zero
        assert "MetricsAvailable=False/PrometheusError" in conditions
    finally:
        prom.stop()
        shutil.rmtree(workdir, ignore_errors=True)
