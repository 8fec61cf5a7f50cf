"""wva_ray.core: the pure decision logic. No I/O, no clock, no environment (an import-linter contract holds it).

`decide(snapshot, now) -> Plan` is the one entry point; `propose` and `finalize` split it at global allocation
for the sharded runtime.
"""

from wva_ray.core.decide import decide, finalize, propose

__all__ = ["decide", "finalize", "propose"]
