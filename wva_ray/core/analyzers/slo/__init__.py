"""wva_ray.core.analyzers.slo: SLO-driven sizing (analyzerName `slo`). Pure: no I/O, no clock, no environment.

- `queueing`: birth-death chain and M/G/1 building blocks.
- `perf_model`: one replica's latencies vs arrival rate from alpha/beta/gamma parameters.
- `capacity`: the largest rate per replica that meets a class's targets.
- `estimator`: online (robust, recursive) estimation of the parameters from vLLM signals.
- `sizing`: arrival rate, short-horizon forecast and replicas per variant with scale-down hysteresis.
- `analyzer`: the analyzer entry the pipeline calls.
"""
