"""Host helpers for the runtime benchmarks (scale, soak): a retried local `ray.init`, process RSS and the load
average, read from /proc. Does process and file I/O."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def load1() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def init_local_ray(ray: Any, attempts: int = 6) -> None:
    """`ray.init` of a local 2-CPU Ray; retried, since a raylet that takes over 30 s to register (a loaded
    host) makes it fail."""
    for attempt in range(1, attempts + 1):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="wva")
            return
        except Exception:
            if attempt == attempts:
                raise
            ray.shutdown()
            time.sleep(5)


def rss_mib(pid: int) -> float:
    """Resident set size of `pid` in MiB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0
