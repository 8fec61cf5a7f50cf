"""A real multi-node Ray cluster on this machine, for tests and benchmarks: one `ray start --head` plus worker
nodes (`ray start --address`), each with its own custom resources, ports and temp dir. Does I/O (processes,
ports, files).

Every node is one `ray start --block` process in its own process group (session): the group holds the node's
GCS or raylet and agents; the worker processes that run its actors start their own sessions but are children of
the raylet. So a node is that group plus its descendants: `kill_node` SIGKILLs them (a node loss), `stop` ends
every node this object started and nothing else (never `ray stop`, which would hit other people's Ray on a
shared machine). Each cluster writes its address file into its own temp dir, so a plain
`ray.init()` elsewhere on the machine never finds it. Failure detection is shortened (GCS health checks every
1 s, four misses) so a killed node is declared dead in about 4 s instead of about 15 s.

    with LocalRayCluster() as cluster:
        cluster.start_head(resources={"wva-head": 1})
        cluster.add_worker("w1", resources={"wva-shard": 100})
        ray.init(address=cluster.address)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

NODE_RESOURCE_PREFIX = "wva-node-"  # every node advertises `wva-node-<name>: 1`, so the state API names it
FAST_FAILURE_DETECTION = {  # a dead node is declared after ~4 s (default ~15 s); lenient enough for a loaded host
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "2000",
    "RAY_health_check_failure_threshold": "4",
}
START_ATTEMPTS = 5  # a node gives up after 30 s without registering (hard-coded in Ray): retried on a loaded host


def free_port() -> int:
    """A TCP port nothing listens on right now (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_executable() -> str:
    """The `ray` CLI of this interpreter's environment."""
    candidate = Path(sys.executable).with_name("ray")
    return str(candidate) if candidate.exists() else "ray"


@dataclass
class RayNode:
    """One `ray start --block` process group."""

    name: str
    head: bool
    resources: dict[str, float]
    process: subprocess.Popen[bytes]
    log_path: Path
    ports: dict[str, int]
    args: list[str] = field(default_factory=list)
    num_cpus: float | None = None
    attempts: int = 1
    killed: bool = False

    @property
    def pgid(self) -> int:
        return self.process.pid  # started with start_new_session: the group id is its pid

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class LocalRayCluster:
    """Head plus worker nodes on 127.0.0.1; see the module docstring."""

    num_cpus_per_node: float = 1
    object_store_mib: int = 100
    fast_failure_detection: bool = True
    extra_env: Mapping[str, str] = field(default_factory=dict)
    start_timeout_s: float = 240.0
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wvr-")))
    nodes: dict[str, RayNode] = field(default_factory=dict)
    gcs_port: int | None = None
    dashboard_port: int | None = None

    # ---- lifecycle --------------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        if self.gcs_port is None:
            raise RuntimeError("the head node is not started")
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        if self.dashboard_port is None:
            raise RuntimeError("the head node has no dashboard")
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start_head(self, resources: Mapping[str, float] | None = None, num_cpus: float | None = None) -> RayNode:
        if self.gcs_port is not None:
            raise RuntimeError("the head node is already started")
        self.gcs_port = free_port()
        self.dashboard_port = free_port()
        args = [
            "--head",
            f"--port={self.gcs_port}",
            f"--ray-client-server-port={free_port()}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
        ]
        node = self._start("head", True, args, resources, num_cpus)
        self._wait_nodes(1)
        return node

    def add_worker(
        self, name: str, resources: Mapping[str, float] | None = None, num_cpus: float | None = None
    ) -> RayNode:
        return self.add_workers({name: resources or {}}, num_cpus)[0]

    def add_workers(self, workers: Mapping[str, Mapping[str, float]], num_cpus: float | None = None) -> list[RayNode]:
        """Start several worker nodes at once (name -> custom resources) and wait until all are alive."""
        for name in workers:
            if name in self.nodes:
                raise ValueError(f"node name {name!r} is already used")
        started = [
            self._start(name, False, [f"--address={self.address}"], res, num_cpus) for name, res in workers.items()
        ]
        self._wait_nodes(sum(1 for n in self.nodes.values() if not n.killed))
        return started

    def _start(
        self, name: str, head: bool, args: list[str], resources: Mapping[str, float] | None, num_cpus: float | None
    ) -> RayNode:
        temp_dir = self.root / name
        temp_dir.mkdir(parents=True, exist_ok=True)
        all_resources = {f"{NODE_RESOURCE_PREFIX}{name}": 1.0, **(resources or {})}
        ports = {
            "node_manager": free_port(),
            "object_manager": free_port(),
            "metrics_export": free_port(),
            "agent_grpc": free_port(),
            "agent_listen": free_port(),
            "runtime_env_agent": free_port(),
        }
        cmd = [
            ray_executable(),
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={temp_dir}",
            f"--num-cpus={num_cpus if num_cpus is not None else self.num_cpus_per_node}",
            "--num-gpus=0",
            f"--resources={json.dumps(all_resources)}",
            f"--object-store-memory={self.object_store_mib * 1024 * 1024}",
            f"--node-manager-port={ports['node_manager']}",
            f"--object-manager-port={ports['object_manager']}",
            f"--metrics-export-port={ports['metrics_export']}",
            f"--dashboard-agent-grpc-port={ports['agent_grpc']}",
            f"--dashboard-agent-listen-port={ports['agent_listen']}",
            f"--runtime-env-agent-port={ports['runtime_env_agent']}",
            "--min-worker-port=0",
            "--max-worker-port=0",
            "--disable-usage-stats",
            *args,
        ]
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
        env.update(self.extra_env)
        env.pop("RAY_ADDRESS", None)
        if self.fast_failure_detection:
            env.update(FAST_FAILURE_DETECTION)
        log_path = self.root / f"{name}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        attempts = self.nodes[name].attempts + 1 if name in self.nodes else 1
        node = RayNode(name, head, all_resources, proc, log_path, ports, args, num_cpus, attempts)
        self.nodes[name] = node
        return node

    def _wait_nodes(self, expected: int) -> None:
        """Until the GCS lists `expected` live nodes (or a node process exits: its log says why)."""
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            for node in list(self.nodes.values()):
                if node.alive() or node.killed:
                    continue
                if node.attempts >= START_ATTEMPTS or node.head:
                    tail = node.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"ray node {node.name} exited with {node.process.returncode}:\n{tail}")
                _kill_tree(node.pgid, signal.SIGKILL)  # what is left of the failed attempt
                resources = {k: v for k, v in node.resources.items() if k != f"{NODE_RESOURCE_PREFIX}{node.name}"}
                self._start(node.name, node.head, node.args, resources, node.num_cpus)
            if len(self.live_nodes()) >= expected and all(n.alive() or n.killed for n in self.nodes.values()):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{expected} Ray nodes not alive after {self.start_timeout_s} s (logs in {self.root})")

    # ---- inspection -------------------------------------------------------------------------------------
    def live_nodes(self) -> list[dict[str, Any]]:
        """The GCS's alive nodes (node_id, resources_total) through the dashboard's state API."""
        rows = self._state("nodes")
        return [r for r in rows if r.get("state") == "ALIVE"]

    def _state(self, kind: str) -> list[dict[str, Any]]:
        if self.dashboard_port is None:
            return []
        from ray.util.state import list_actors, list_nodes

        address = self.dashboard_url
        try:
            if kind == "nodes":
                return [_as_dict(n) for n in list_nodes(address=address, limit=1000, raise_on_missing_output=False)]
            return [_as_dict(a) for a in list_actors(address=address, limit=10000, raise_on_missing_output=False)]
        except Exception:  # the dashboard is still starting
            return []

    def node_names(self) -> dict[str, str]:
        """Ray node id -> our node name (from the `wva-node-<name>` resource each node advertises)."""
        out = {}
        for row in self.live_nodes():
            for res in row.get("resources_total", {}):
                if res.startswith(NODE_RESOURCE_PREFIX):
                    out[row["node_id"]] = res[len(NODE_RESOURCE_PREFIX) :]
        return out

    def actor_nodes(self, name_prefix: str = "") -> dict[str, str]:
        """Alive named actor -> our node name (state API)."""
        names = self.node_names()
        return {
            a["name"]: names.get(a["node_id"], a["node_id"])
            for a in self._state("actors")
            if a.get("state") == "ALIVE" and a.get("name", "").startswith(name_prefix) and a.get("name")
        }

    # ---- faults and teardown ----------------------------------------------------------------------------
    def kill_node(self, name: str) -> None:
        """SIGKILL every process of the node (raylet, agents, its actors' workers): a node loss."""
        node = self.nodes[name]
        if node.head:
            raise ValueError("killing the head ends the cluster; use stop()")
        node.killed = True
        _kill_tree(node.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(timeout=10)

    def stop(self) -> None:
        """End every node this object started (workers first, then the head), then remove the temp dirs."""
        order = sorted(self.nodes.values(), key=lambda n: n.head)
        trees = {node.name: _tree(node.pgid) for node in order}
        for node in order:
            if node.alive():
                _killpg(node.pgid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for node in order:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for node in order:  # stragglers: the group's processes and the workers seen before SIGTERM
            for pid in trees[node.name] | _tree(node.pgid):
                _kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=5)
        self.nodes.clear()
        self.gcs_port = self.dashboard_port = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, pgid) of every process (from /proc)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        out[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return out


def _tree(pgid: int) -> set[int]:
    """The processes of group `pgid` and all their descendants (whatever their own group)."""
    procs = _processes()
    found = {pid for pid, (_, group) in procs.items() if group == pgid}
    grew = True
    while grew:
        more = {pid for pid, (ppid, _) in procs.items() if ppid in found and pid not in found}
        found |= more
        grew = bool(more)
    return found


def _kill_tree(pgid: int, sig: signal.Signals) -> None:
    """Signal the group and its descendants at once (so the raylet cannot restart a worker in between)."""
    for pid in _tree(pgid):
        _kill(pid, sig)
    _killpg(pgid, sig)


def _as_dict(row: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    from dataclasses import asdict

    out: dict[str, Any] = asdict(row)
    return out
