"""A small external-metrics adapter for the HPA tests (test helper, does network and process I/O).

What it is: a stand-in for prometheus-adapter (or KEDA's metrics server), written for the tests because neither
can run here (both ship as container images only). It serves ``external.metrics.k8s.io/v1beta1`` over HTTPS
(self-signed, openssl) and answers every request with a live PromQL query against real Prometheus, like
prometheus-adapter configured with upstream WVA's rule: the metric is looked up by name, the HPA's label
selector becomes PromQL matchers, and the request namespace matches ``exported_namespace`` (Prometheus renames
the gauge's ``namespace`` when the controller's own namespace is the target label). It holds no value of its
own: what the HPA sees is the gauge wva-ray exported, as Prometheus last scraped it (in tests/loop, the
`wva-ray run` process's metrics endpoint). An empty result is served as an empty list (the HPA then keeps its
replica count), a Prometheus error as 503.
Registered with an ``APIService`` whose Service is ``type: ExternalName`` pointing at 127.0.0.1.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.kube.manifests import apply
from wva_ray.adapters.kube.client import KubeApi

GROUP_VERSION = "external.metrics.k8s.io/v1beta1"
PREFIX = f"/apis/{GROUP_VERSION}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def selector_matchers(selector: str) -> list[str]:
    """``a=b,c==d,e!=f`` -> PromQL matchers (set-based selectors are not needed by the tests)."""
    out = []
    for part in filter(None, (p.strip() for p in selector.split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            out.append(f'{k.strip()}!="{_escape(v.strip())}"')
        else:
            k, v = part.replace("==", "=").split("=", 1)
            out.append(f'{k.strip()}="{_escape(v.strip())}"')
    return out


class ExternalMetricsAdapter:
    def __init__(
        self, prometheus_url: str, workdir: Path, metrics: tuple[str, ...] = ("wva_desired_replicas",)
    ) -> None:
        self.prometheus_url = prometheus_url
        self.metrics = metrics
        self.workdir = workdir
        self.requests: list[str] = []
        cert, key = workdir / "adapter.crt", workdir / "adapter.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
             "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-adapter", daemon=True)

    def start(self) -> ExternalMetricsAdapter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def register(self, api: KubeApi, namespace: str) -> None:
        """Service (ExternalName -> 127.0.0.1) + APIService for external.metrics.k8s.io/v1beta1."""
        apply(
            api,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "wva-test-metrics-adapter", "namespace": namespace},
                "spec": {
                    "type": "ExternalName",
                    "externalName": "127.0.0.1",
                    "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}],
                },
            },
        )
        apply(
            api,
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
                "spec": {
                    "group": "external.metrics.k8s.io",
                    "version": "v1beta1",
                    "service": {"name": "wva-test-metrics-adapter", "namespace": namespace, "port": self.port},
                    "insecureSkipTLSVerify": True,
                    "groupPriorityMinimum": 100,
                    "versionPriority": 100,
                },
            },
        )

    # -- serving ----------------------------------------------------------------------------------------
    def query(self, metric: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        matchers = [f'exported_namespace="{_escape(namespace)}"', *selector_matchers(selector)]
        promql = f"{metric}{{{','.join(matchers)}}}"
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as resp:
            doc = json.load(resp)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        items = []
        for series in doc["data"]["result"]:
            labels = {k: v for k, v in series["metric"].items() if k != "__name__"}
            milli = round(float(series["value"][1]) * 1000)
            items.append({"metricName": metric, "metricLabels": labels, "timestamp": now, "value": f"{milli}m"})
        return items

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlparse(self.path)
                adapter.requests.append(self.path)
                if url.path in (PREFIX, PREFIX + "/"):
                    kind = "ExternalMetricValueList"
                    resources = [
                        {"name": m, "singularName": "", "namespaced": True, "kind": kind, "verbs": ["get"]}
                        for m in adapter.metrics
                    ]
                    self._send(
                        200,
                        {
                            "kind": "APIResourceList",
                            "apiVersion": "v1",
                            "groupVersion": GROUP_VERSION,
                            "resources": resources,
                        },
                    )
                    return
                parts = url.path[len(PREFIX) :].strip("/").split("/")
                if url.path.startswith(PREFIX) and len(parts) == 3 and parts[0] == "namespaces":
                    selector = urllib.parse.parse_qs(url.query).get("labelSelector", [""])[0]
                    try:
                        items = adapter.query(parts[2], parts[1], selector)
                    except OSError as exc:
                        self._send(
                            503,
                            {
                                "kind": "Status",
                                "apiVersion": "v1",
                                "status": "Failure",
                                "message": str(exc),
                                "code": 503,
                            },
                        )
                        return
                    self._send(
                        200,
                        {
                            "kind": "ExternalMetricValueList",
                            "apiVersion": GROUP_VERSION,
                            "metadata": {},
                            "items": items,
                        },
                    )
                    return
                if url.path in ("/healthz", "/readyz", "/livez"):
                    self._send(200, {"status": "ok"})
                    return
                self._send(
                    404,
                    {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "not found", "code": 404},
                )

        return Handler
