"""wva_ray.adapters.kube: the Kubernetes API (does I/O). `client` (blocking JSON calls), `cache` (list-and-watch),
`discovery` (kinds -> resources), `reader` (watched state -> `cluster_state.ClusterState`; raw-object helpers in
`objects`, GPU inventory in `inventory`, selectors in `selectors`), `live_snapshot` (the one-shot read of
`plan --from-cluster`), `publish` and `status` (VA status, Events, scale), `lease` (leader election),
`settings` (its typed arguments)."""
