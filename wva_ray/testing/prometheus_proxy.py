"""A fault-injecting HTTP proxy in front of a real Prometheus (test rig; network I/O on daemon threads).

Forwards every request (GET or POST, path, query and body) to `upstream` and returns its answer, except:
- `delay_s` > 0: each answer is held back that long (a slow or overloaded Prometheus);
- `drop_pods`: series whose `pod` label is in the set are removed from `/api/v1/query` vector and matrix
  results, and a `warnings` entry says so (a partial answer, as a federated or sharded Prometheus gives when a
  store is down).
The knobs can be changed while it runs. `queries` counts the forwarded requests; `dropped_series` what was cut.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PrometheusProxy:
    def __init__(self, upstream: str, timeout_s: float = 30.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.timeout_s = timeout_s
        self.delay_s = 0.0
        self.drop_pods: set[str] = set()
        self.queries = 0
        self.dropped_series = 0
        self.upstream_errors = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="prometheus-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.delay_s = 0.0
        self.drop_pods = set()

    def _filter(self, body: bytes) -> bytes:
        drop = set(self.drop_pods)
        if not drop:
            return body
        try:
            doc: dict[str, Any] = json.loads(body)
            result = doc["data"]["result"]
        except (ValueError, KeyError, TypeError):
            return body
        if not isinstance(result, list):
            return body
        kept = [s for s in result if not (isinstance(s, dict) and (s.get("metric") or {}).get("pod") in drop)]
        cut = len(result) - len(kept)
        if cut:
            with self._lock:
                self.dropped_series += cut
            doc["data"]["result"] = kept
            doc.setdefault("warnings", []).append(f"partial response: {cut} series of pods {sorted(drop)} missing")
        return json.dumps(doc).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
                req = urllib.request.Request(proxy.upstream + self.path, data=data, headers=headers, method=method)
                with proxy._lock:
                    proxy.queries += 1
                if proxy.delay_s > 0:
                    time.sleep(proxy.delay_s)
                try:
                    with urllib.request.urlopen(req, timeout=proxy.timeout_s) as resp:
                        status, body = int(resp.status), resp.read()
                        ctype = resp.headers.get("Content-Type", "application/json")
                except urllib.error.HTTPError as exc:
                    status, body, ctype = int(exc.code), exc.read(), "application/json"
                except OSError as exc:
                    with proxy._lock:
                        proxy.upstream_errors += 1
                    status, ctype = 502, "application/json"
                    body = json.dumps({"status": "error", "errorType": "unavailable", "error": str(exc)}).encode()
                if status == 200 and self.path.startswith("/api/v1/query"):
                    body = proxy._filter(body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        return Handler
