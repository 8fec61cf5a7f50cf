"""wva_ray.api."""
