"""wva_ray.runtime: the cycle driver and its hosts. Thin shells over `wva_ray.core`; I/O through adapters.

- `cycle`, `sharding`, `wire`: the pure shape of a cycle (split by rendezvous hashing, finalize, transport).
- `coordination` (the coordinator's cycle), `shard_step` (a shard's metrics + analyzers), `loop` (interval,
  backoff): shared by both hosts below.
- `coordinator`, `shard`, `launch`: the Ray actors. `local`: the same in one asyncio process (`--no-ray`).
- `controller`, `run_cli`, `kube_wiring`, `settings`: `wva-ray run` against a real cluster.
- `demo*`, `memory_cluster`, `remote`, `wiring`: `wva-ray demo` and the in-memory cluster used by tests and
  benchmarks.
"""
