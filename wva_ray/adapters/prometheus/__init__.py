"""wva_ray.adapters.prometheus: the one Prometheus client (`client`, does I/O), the one PromQL builder with the one
label escaping (`queries`, pure), and the controller's `MetricsSource` over them (`collector`). The Serve policy's
mode `prometheus` uses the same client and builder."""
