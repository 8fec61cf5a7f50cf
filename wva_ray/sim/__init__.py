"""wva_ray.sim."""
