"""wva_ray.api: the typed shapes at the edges (no I/O).

- `va`: the VariantAutoscaling resource (`llmd.ai/v1alpha1`): spec, status, conditions.
- `config`: the saturation and scale-to-zero ConfigMap entries and their built-in defaults.
- `snapshot`: the input of `wva-ray plan` (one recorded cluster state).
- `plan`: the output of the decision pipeline.
"""
