"""wva_ray.runtime."""
