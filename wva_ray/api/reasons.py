"""The one vocabulary of reasons: why a condition has its status, and why a policy returned the replica count it
returned. Pure data; no I/O.

Values are Kubernetes-style CamelCase (they become `status.conditions[].reason`). The controller's conditions use
the first block; the Ray Serve policies (wva_ray.serve) report one reason per tick from the same enum, so a held
or timed-out decision is spelled the same on a VA condition and in a Serve log line.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # conditions (TargetResolved, MetricsAvailable, OptimizationReady, TargetConflict)
    TARGET_FOUND = "TargetFound"
    TARGET_NOT_FOUND = "TargetNotFound"
    METRICS_FOUND = "MetricsFound"
    METRICS_MISSING = "MetricsMissing"
    METRICS_STALE = "MetricsStale"
    PROMETHEUS_ERROR = "PrometheusError"
    METRICS_WARMING_UP = "MetricsWarmingUp"  # ours: back after an outage; no scale-down until the windows refill
    SCALE_FROM_ZERO = "ScaleFromZero"
    OPTIMIZATION_SUCCEEDED = "OptimizationSucceeded"
    INVALID_CONFIGURATION = "InvalidConfiguration"
    MISSING_ACCELERATOR = "MissingAccelerator"
    TRANSITION_TIMED_OUT = "TransitionTimedOut"
    LIMITED = "Limited"
    TARGET_CONFLICT = "TargetConflict"
    NO_CONFLICT = "NoConflict"
    # the Serve policies' per-tick reasons (besides MetricsMissing and TransitionTimedOut above)
    NO_RUNNING_REPLICAS = "NoRunningReplicas"
    TRANSITION = "TransitionInProgress"
    METRICS_PARTIAL = "MetricsPartial"
    SCALE_UP = "ScaleUp"
    SCALE_DOWN = "ScaleDown"
    AT_MAX = "AtMaxReplicas"
    STEADY = "Steady"
    COORDINATOR = "Coordinator"
    COORDINATOR_MISSING = "CoordinatorMissing"
    MIN_ONE_REPLICA = "MinOneReplica"
