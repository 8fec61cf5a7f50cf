"""wva_ray.runtime: the production controller. Thin shells over `wva_ray.core`; I/O through `wva_ray.adapters`.

The data of a cycle and its pure steps:
- `cycle`: `ShardWork`, `ShardProposal`, split and finalize around `core.propose`; `shard_codec`: their compact
  transport between actors; `gc_pause`: the collector paused around a decision pass.
The two halves of a cycle, independent of Ray:
- `coordinator_cycle` (`CycleCore`: observe -> shard work -> allocation -> publish; the `ClusterView` port),
  `shard_cycle` (one shard's metrics + `core.propose`), `loop` (interval by deadline, backoff).
Their hosts:
- Ray: `coordinator_actor`, `shard_actor`, `launch` (start / stop them). No Ray: `local` (`--no-ray`).
- `wiring` (the `Wiring` port: how each process builds its I/O objects) and `kube_wiring` (`KubeWiring`, the
  production one: Kubernetes reader/publisher and the Prometheus or direct-scrape metrics source).
- `controller` (`wva-ray run`: leader election, health, gauges, one of the hosts above) and `ray_app` (the same
  controller as a KubeRay RayService application). Settings come from `wva_ray.settings`.
The in-memory wiring and cluster used by tests and the demo live in `wva_ray.testing`, the demo in `wva_ray.demo`.
"""
