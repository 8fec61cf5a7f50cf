"""adapters/kube."""
