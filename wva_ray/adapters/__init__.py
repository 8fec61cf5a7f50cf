"""wva_ray.adapters."""
