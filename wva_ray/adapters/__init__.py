"""wva_ray.adapters: every I/O of the controller, each behind a core port or a typed argument; no environment.

- `kube/`: the Kubernetes API (client, watch cache, discovery, reader -> `ClusterState`, publisher of status and
  scale, Lease, GPU inventory);
- `prometheus/`: the one Prometheus client (`client`), the one PromQL builder (`queries`), the metrics source
  (`collector`);
- `scrape` (pods' /metrics directly), `gauges` (our /metrics), `clock`, `snapshot_file` (snapshot JSON).
"""
