"""adapters/prometheus."""
