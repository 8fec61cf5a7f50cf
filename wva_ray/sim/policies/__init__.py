"""Simulated autoscaling policies (wva-ray, upstream WVA, HPA, KEDA, Ray Serve, static, oracle)."""
