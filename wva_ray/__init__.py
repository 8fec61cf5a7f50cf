"""wva-ray: a Ray-native Workload Variant Autoscaler for vLLM inference servers."""

__version__ = "0.1.0"
