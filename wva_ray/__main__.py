"""`python -m wva_ray` is the `wva-ray` command."""

from wva_ray.cli import app

app()
