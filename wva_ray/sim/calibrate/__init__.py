"""sim/calibrate: fit a serving profile to measurements of a real engine, replay one request sequence through the
replica model, and compare the model's series and latencies with the engine's (`wva-ray calibrate`). Pure: the
real-engine side lives in `wva_ray.testing.vllm_calibrate`.
"""
