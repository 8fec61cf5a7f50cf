"""wva_ray.core."""
