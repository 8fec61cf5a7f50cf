"""Benchmark: CPU cost of emulated vLLM pods under request load (for sizing the demo and the tests).

Starts `P` replica-model pods (`--profile`) in one child process (`wva-ray emulate`'s code path), drives them
with the load generator at `--rate` requests/s for `--duration` s, and reports the emulator process' CPU per
request and per pod, plus the client-side latency summary.

    .venv/bin/python benchmarks/metrics_emulator_load.py --pods 4 --rate 40 --duration 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wva_ray.sim.loadgen import LoadSpec, replay, synthetic_trace
from wva_ray.testing.prometheus_server import free_port

CHILD = """
import sys, typer
from wva_ray.cli.emulate import register
app = typer.Typer()
register(app)
@app.command("noop")
def noop() -> None: ...
app(sys.argv[1:])
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=4)
    ap.add_argument("--rate", type=float, default=40.0)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--profile", default="llama-3.1-8b/H100")
    ap.add_argument("--tokens", default="azure-conv")
    args = ap.parse_args()
    base = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        sd = Path(tmp) / "sd.json"
        cmd = [sys.executable, "-c", CHILD, "emulate", "--model", "bench", "--pods", str(args.pods)]
        cmd += ["--base-port", str(base), "--profile", args.profile, "--file-sd", str(sd)]
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not sd.exists():
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("emulator did not start")
                time.sleep(0.1)
            urls = [f"http://{t['targets'][0]}" for t in json.loads(sd.read_text())]
            trace = synthetic_trace(args.rate, args.duration, args.tokens, seed=1)
            cpu0, t0 = cpu_seconds(child.pid), time.monotonic()
            result = asyncio.run(replay(trace, urls, LoadSpec(model="bench", max_duration_s=args.duration + 1)))
            wall, cpu = time.monotonic() - t0, cpu_seconds(child.pid) - cpu0
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(30)
    s = result.summary()
    out = {
        "pods": args.pods,
        "profile": args.profile,
        "offered_rate_per_s": args.rate,
        "requests_ok": s["ok"],
        "errors": s["errors"],
        "wall_s": round(wall, 2),
        "emulator_cpu_cores": round(cpu / wall, 3),
        "emulator_cpu_ms_per_request": round(1000 * cpu / max(1, s["ok"]), 3),
        "e2e_p50_s": s["e2e_s"].p50,
        "ttft_p50_s": s["ttft_s"].p50,
        "itl_p50_s": s["itl_s"].p50,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
