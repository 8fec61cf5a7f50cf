"""Real vLLM engines as local processes: the engine environment that `scripts/setup.d/40-vllm-engine.sh`
installs, one engine server process (`VllmEngine`) and the replicas of one scale target (`VllmFleet`). Does
process, file and network I/O (blocking; call from threads or synchronous code, or via `asyncio.to_thread`).

Each engine is `python -m vllm.entrypoints.openai.api_server` of the engine venv serving the tiny random Llama
on a free loopback port, in its own process group (vLLM forks an engine-core process), with a sized-down KV
cache (`--num-gpu-blocks-override`) so that KV pressure and preemption are real, and one OpenMP thread.
Readiness is `GET /health` answering 200. An engine that exits before it is ready raises `EngineStartError`
with its log tail; every engine still running when the interpreter exits is killed (atexit), so nothing is
left behind. A missing or broken engine environment raises `EngineEnvError` naming the setup step.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wva_ray.adapters.scrape import ScrapeTarget
from wva_ray.testing.prometheus_server import free_port

SETUP_STEP = "scripts/setup.d/40-vllm-engine.sh"
LOOPBACK = "127.0.0.1"
DEFAULT_MODEL_NAME = "tiny-llama"


class EngineEnvError(RuntimeError):
    """The vLLM engine environment is missing or broken (the message names the setup step)."""


class EngineStartError(RuntimeError):
    """An engine exited or did not become ready (the message carries its log tail)."""


def cache_root() -> Path:
    return Path(os.environ.get("WVA_RAY_CACHE") or Path.home() / ".cache" / "wva-ray")


@dataclass(frozen=True, slots=True)
class EngineEnv:
    """Where the engine venv's python and the tiny model are (recorded by the setup step)."""

    python: Path
    model_dir: Path

    @staticmethod
    def locate(root: Path | None = None) -> EngineEnv:
        """Read `<cache>/vllm-current`; raises EngineEnvError naming the setup step when anything is missing."""
        root = root or cache_root()
        current = root / "vllm-current"
        hint = f"run `bash {SETUP_STEP}` (or `make test`, which runs scripts/setup.sh)"
        if not current.is_file():
            raise EngineEnvError(f"no vLLM engine environment: {current} does not exist; {hint}")
        python = Path(current.read_text(encoding="utf-8").strip())
        if not python.is_file():
            raise EngineEnvError(f"vLLM engine python {python} (from {current}) does not exist; {hint}")
        model_dir = python.parent.parent.parent / "model"
        if not (model_dir / "config.json").is_file():
            raise EngineEnvError(f"tiny model missing: {model_dir / 'config.json'} does not exist; {hint}")
        return EngineEnv(python, model_dir)

    def check(self, timeout_s: float = 180.0) -> str:
        """`import vllm` in the engine venv; returns vLLM's version or raises EngineEnvError with stderr."""
        try:
            done = subprocess.run(
                [str(self.python), "-c", "import vllm; print(vllm.__version__)"],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineEnvError(f"vLLM engine python {self.python} failed: {exc}; run `bash {SETUP_STEP}`") from exc
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-8:])
            raise EngineEnvError(
                f"`import vllm` fails in {self.python} (exit {done.returncode}); run `bash {SETUP_STEP}`:\n{tail}"
            )
        return done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """How every engine of a fleet is started. `num_gpu_blocks` x `block_size` = the KV cache in tokens."""

    served_model_name: str = DEFAULT_MODEL_NAME
    max_num_seqs: int = 8
    num_gpu_blocks: int | None = 64
    block_size: int = 32
    max_model_len: int = 1024
    max_num_batched_tokens: int | None = None
    kv_cache_space_gib: int = 1  # VLLM_CPU_KVCACHE_SPACE (whole GiB); the block override sizes the cache
    omp_threads: int = 1
    enable_prefix_caching: bool = True
    extra_args: tuple[str, ...] = ()
    extra_env: tuple[tuple[str, str], ...] = ()

    @property
    def kv_capacity_tokens(self) -> int | None:
        return None if self.num_gpu_blocks is None else self.num_gpu_blocks * self.block_size

    def args(self, env: EngineEnv, port: int) -> list[str]:
        out = [
            str(env.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(env.model_dir),
            "--served-model-name", self.served_model_name,
            "--host", LOOPBACK, "--port", str(port),
            "--dtype", "float32",
            "--max-num-seqs", str(self.max_num_seqs),
            "--max-model-len", str(self.max_model_len),
            "--block-size", str(self.block_size),
            "--disable-uvicorn-access-log",
        ]  # fmt: skip
        if self.num_gpu_blocks is not None:
            out += ["--num-gpu-blocks-override", str(self.num_gpu_blocks)]
        if self.max_num_batched_tokens is not None:
            out += ["--max-num-batched-tokens", str(self.max_num_batched_tokens)]
        if not self.enable_prefix_caching:
            out.append("--no-enable-prefix-caching")
        return out + list(self.extra_args)

    def environment(self, cpu: int | None) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):  # the project's venv must not leak in
            env.pop(key, None)
        env.update(
            {
                "VLLM_CPU_KVCACHE_SPACE": str(self.kv_cache_space_gib),
                "VLLM_CPU_OMP_THREADS_BIND": str(cpu) if cpu is not None else "nobind",
                "OMP_NUM_THREADS": str(self.omp_threads),
                "VLLM_NO_USAGE_STATS": "1",
                "DO_NOT_TRACK": "1",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
            }
        )
        env.update(dict(self.extra_env))
        return env


_LIVE: set[VllmEngine] = set()
_LIVE_LOCK = threading.Lock()


def _kill_all() -> None:
    with _LIVE_LOCK:
        engines = list(_LIVE)
    for engine in engines:
        with contextlib.suppress(Exception):
            engine.stop(timeout_s=5.0)


atexit.register(_kill_all)


class VllmEngine:
    """One vLLM server process (see the module docstring). `start()` returns at once; `wait_ready()` blocks."""

    def __init__(self, env: EngineEnv, spec: EngineSpec, name: str, workdir: Path, cpu: int | None = None) -> None:
        self.env = env
        self.spec = spec
        self.name = name
        self.workdir = workdir
        self.cpu = cpu
        self.port = 0
        self.log_path = workdir / f"{name}.log"
        self.started_s: float | None = None
        self.ready_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError(f"engine {self.name} already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        with self.log_path.open("ab") as log:
            log.write(f"== start {time.strftime('%H:%M:%S')} port {self.port}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self.spec.args(self.env, self.port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.spec.environment(self.cpu),
                cwd=self.workdir,
                start_new_session=True,  # its own process group: stop() kills the engine-core child too
            )
        self.started_s = time.monotonic()
        with _LIVE_LOCK:
            _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def poll_ready(self) -> bool:
        """True once `/health` answered 200; raises EngineStartError when the process has exited."""
        if self._ready:
            return True
        proc = self._proc
        if proc is None:
            return False
        if proc.poll() is not None:
            code = proc.returncode
            self._forget()
            raise EngineStartError(
                f"vLLM engine {self.name} exited with {code} before it was ready; log {self.log_path}:\n"
                f"{self.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1.0) as resp:
                ok = int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            ok = False
        if ok:
            self._ready = True
            self.ready_s = time.monotonic()
        return ok

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def startup_s(self) -> float | None:
        if self.started_s is None or self.ready_s is None:
            return None
        return self.ready_s - self.started_s

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.poll_ready():
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise EngineStartError(
                    f"vLLM engine {self.name} not ready after {timeout_s:.0f}s; log {self.log_path}:\n{tail}"
                )
            time.sleep(0.5)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL; safe to call twice."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the engine-core child may outlive the server
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout_s)
        self._forget()

    def _forget(self) -> None:
        self._ready = False
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class VllmFleet:
    """The engines of one scale target (`namespace/target`); at most `max_engines`, each bound to its own CPU
    when `bind_cpus` is set. Scaling up starts a real engine (its real start-up delay)."""

    env: EngineEnv
    spec: EngineSpec
    workdir: Path
    target: str = "tiny"
    namespace: str = "default"
    max_engines: int = 2
    bind_cpus: bool = False
    engines: list[VllmEngine] = field(default_factory=list)
    _seq: int = 0

    def start_engine(self, name: str | None = None) -> VllmEngine:
        if len(self.engines) >= self.max_engines:
            raise RuntimeError(
                f"fleet {self.namespace}/{self.target} already runs {len(self.engines)} engine(s) "
                f"(max_engines={self.max_engines}: what this machine's cores hold)"
            )
        self._seq += 1
        used = {e.cpu for e in self.engines}
        cpu = next((c for c in range(os.cpu_count() or 1) if c not in used), None) if self.bind_cpus else None
        engine = VllmEngine(self.env, self.spec, name or f"{self.target}-{self._seq:03d}", self.workdir, cpu)
        engine.start()
        self.engines.append(engine)
        return engine

    def stop_engine(self, name: str) -> None:
        for engine in list(self.engines):
            if engine.name == name:
                self.engines.remove(engine)
                engine.stop()

    def scale(self, replicas: int, wait_ready_s: float | None = 300.0) -> None:
        """Start or stop engines (newest first) until `replicas` run; waits for readiness unless None."""
        while len(self.engines) > replicas:
            self.stop_engine(self.engines[-1].name)
        while len(self.engines) < replicas:
            self.start_engine()
        if wait_ready_s is not None:
            for engine in self.engines:
                engine.wait_ready(wait_ready_s)

    def ready_engines(self) -> list[VllmEngine]:
        out = []
        for engine in self.engines:
            if engine.poll_ready():
                out.append(engine)
        return out

    def scrape_targets(self, engines: Sequence[VllmEngine] | None = None) -> list[ScrapeTarget]:
        chosen = self.ready_engines() if engines is None else list(engines)
        return [ScrapeTarget(self.namespace, e.name, self.spec.served_model_name, e.url) for e in chosen]

    def file_sd_targets(self) -> list[dict[str, Any]]:
        """Prometheus `file_sd_configs` entries (labels `namespace`, `pod`) of the ready engines."""
        return [
            {"targets": [f"{LOOPBACK}:{e.port}"], "labels": {"namespace": self.namespace, "pod": e.name}}
            for e in self.ready_engines()
        ]

    def close(self) -> None:
        for engine in list(self.engines):
            engine.stop()
        self.engines.clear()

    def __enter__(self) -> VllmFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
