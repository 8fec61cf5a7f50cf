"""wva_ray.serve."""
