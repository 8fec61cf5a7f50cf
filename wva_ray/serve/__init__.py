"""wva_ray.serve: Ray Serve 2.60 autoscaling policies that apply wva-ray's saturation rules to Serve deployments.

Entry points (named by import path in a Serve config, see docs/ray-serve.md):
- `wva_ray.serve.policy:WvaSaturationPolicy`: deployment-level policy (modes replica_stats, prometheus,
  coordinator);
- `wva_ray.serve.app_policy:WvaMultiVariantPolicy`: application-level, cheapest-first across variant deployments;
- `wva_ray.serve.mixin.SaturationStatsMixin`: replica-side `record_autoscaling_stats()` for mode replica_stats;
- `wva_ray.demo.serve_app`: a CPU stand-in LLM app for tests, docs and demos.
Importing this package does no I/O and starts no thread.
"""
