"""The one PromQL builder of wva-ray: label escaping, the controller's batched per-signal queries and the join of
their results into per-pod rows, and the Serve policy's per-replica signal query (mode `prometheus`). Pure: no
I/O, no clock (the evaluation time is an argument).

One query per signal covers every model group the caller owns: label matchers `namespace=~"ns1|ns2"` and
`model_name=~"m1|m2"` select a superset (the cross product of namespaces and models), and `join_pod_rows`
keeps only the owned (namespace, model) pairs, so the number of queries never grows with the number of models.
Every value is regex-escaped (RE2 metacharacters, as Go's `regexp.QuoteMeta`) and then string-escaped
(`\\`, `"`, newline), so a model name cannot break out of its matcher or widen it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.ports import ModelGroupRef

_RE2_META = frozenset("\\.+*?()|[]{}^$")
POD_LABELS = ("pod", "pod_name")
BY_POD = "namespace, model_name, pod, pod_name"

# Signals of `pod_metrics`, one instant query each.
KV = "kv"
QUEUE = "queue"
FRESHNESS = "freshness"
CACHE_CONFIG = "cache_config"
AVG_INPUT = "avg_input_tokens"
AVG_OUTPUT = "avg_output_tokens"
RUNNING = "running"
ARRIVAL = "arrival_rate"
# Analyzer learned (setting `learned_signals`): the 1 m window of each pod, PodMetrics field -> PromQL template
# (`{sel}` = the group matchers). Gauges averaged, counters and histogram _sum/_count as increases.
WINDOW_S = 60.0
LEARNED: dict[str, str] = {
    "running_mean": "max by ({by}) (avg_over_time(vllm:num_requests_running{{{sel}}}[1m]))",
    "kv_usage_mean": "max by ({by}) (avg_over_time(vllm:kv_cache_usage_perc{{{sel}}}[1m]))",
    "waiting_now": "max by ({by}) (vllm:num_requests_waiting{{{sel}}})",
    "completions": "sum by ({by}) (increase(vllm:request_success_total{{{sel}}}[1m]))",
    "prompt_tokens": "sum by ({by}) (increase(vllm:prompt_tokens_total{{{sel}}}[1m]))",
    "generation_tokens": "sum by ({by}) (increase(vllm:generation_tokens_total{{{sel}}}[1m]))",
    "itl_seconds_sum": "sum by ({by}) (increase(vllm:inter_token_latency_seconds_sum{{{sel}}}[1m]))",
    "itl_count": "sum by ({by}) (increase(vllm:inter_token_latency_seconds_count{{{sel}}}[1m]))",
    "ttft_seconds_sum": "sum by ({by}) (increase(vllm:time_to_first_token_seconds_sum{{{sel}}}[1m]))",
    "ttft_count": "sum by ({by}) (increase(vllm:time_to_first_token_seconds_count{{{sel}}}[1m]))",
    "queue_seconds_sum": "sum by ({by}) (increase(vllm:request_queue_time_seconds_sum{{{sel}}}[1m]))",
    "queue_count": "sum by ({by}) (increase(vllm:request_queue_time_seconds_count{{{sel}}}[1m]))",
    "prefill_seconds_sum": "sum by ({by}) (increase(vllm:request_prefill_time_seconds_sum{{{sel}}}[1m]))",
    "prefill_count": "sum by ({by}) (increase(vllm:request_prefill_time_seconds_count{{{sel}}}[1m]))",
}


def escape_label_value(value: str) -> str:
    """The one label-value escaping (`\\`, `"`, newline): a PromQL double-quoted string literal, and a label value
    of the Prometheus text exposition format (the emulator's renderer), use the same three escapes."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_regex(value: str) -> str:
    """Quote RE2 metacharacters so that `value` matches only itself."""
    return "".join("\\" + ch if ch in _RE2_META else ch for ch in value)


def regex_matcher(label: str, values: Iterable[str]) -> str:
    """`label=~"v1|v2"` matching exactly the given values (sorted, de-duplicated, escaped)."""
    alternation = "|".join(escape_regex(v) for v in sorted(set(values)))
    if not alternation:
        raise ValueError(f"regex matcher for label {label!r} needs at least one value")
    return f'{label}=~"{escape_label_value(alternation)}"'


def equal_matcher(label: str, value: str) -> str:
    return f'{label}="{escape_label_value(value)}"'


@dataclass(frozen=True, slots=True)
class GroupSelector:
    """The label matchers for a set of model groups."""

    namespaces: tuple[str, ...]
    models: tuple[str, ...]

    @staticmethod
    def of(groups: Sequence[ModelGroupRef]) -> GroupSelector:
        if not groups:
            raise ValueError("a selector needs at least one model group")
        return GroupSelector(tuple(sorted({g.namespace for g in groups})), tuple(sorted({g.model_id for g in groups})))

    def namespace_only(self) -> str:
        return regex_matcher("namespace", self.namespaces)

    def full(self) -> str:
        return f"{regex_matcher('namespace', self.namespaces)},{regex_matcher('model_name', self.models)}"


def pod_queries(
    selector: GroupSelector, with_slo_signals: bool = True, with_learned_signals: bool = False
) -> dict[str, str]:
    """The instant queries of one collection cycle, by signal name."""
    sel = selector.full()
    queries = {
        KV: f"max by ({BY_POD}) (max_over_time(vllm:kv_cache_usage_perc{{{sel}}}[1m]))",
        QUEUE: f"max by ({BY_POD}) (max_over_time(vllm:num_requests_waiting{{{sel}}}[1m]))",
        FRESHNESS: f"max by ({BY_POD}) (timestamp(vllm:kv_cache_usage_perc{{{sel}}}))",
        # No model_name on cache_config_info in real vLLM: select by namespace, join on (namespace, pod).
        CACHE_CONFIG: (
            "max by (namespace, pod, pod_name, num_gpu_blocks, block_size) "
            f"(vllm:cache_config_info{{{selector.namespace_only()}}})"
        ),
        AVG_INPUT: _avg_tokens_query("vllm:request_prompt_tokens", sel),
        AVG_OUTPUT: _avg_tokens_query("vllm:request_generation_tokens", sel),
    }
    if with_slo_signals:
        queries[RUNNING] = f"max by ({BY_POD}) (avg_over_time(vllm:num_requests_running{{{sel}}}[1m]))"
        queries[ARRIVAL] = f"sum by ({BY_POD}) (rate(vllm:request_success_total{{{sel}}}[1m]))"
    if with_learned_signals:
        queries.update({f"learned:{k}": t.format(by=BY_POD, sel=sel) for k, t in LEARNED.items()})
    return queries


def _avg_tokens_query(histogram: str, sel: str) -> str:
    return f"max by ({BY_POD}) (rate({histogram}_sum{{{sel}}}[5m]) / rate({histogram}_count{{{sel}}}[5m]))"


def format_duration(seconds: float) -> str:
    """Largest whole unit (d, h, m, s), minimum 1s, as upstream formats the retention."""
    secs = max(1, round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def request_count_query(selector: GroupSelector, retention_s: float) -> str:
    return (
        f"sum by (namespace, model_name) "
        f"(increase(vllm:request_success_total{{{selector.full()}}}[{format_duration(retention_s)}]))"
    )


# EPP's flow-control queue size: the name WVA reads, then the name the llm-d guides use (upstream-v0.9.md 8; it is
# unconfirmed whether EPP still emits the first, so both are read; `or` keeps one series per label set).
FLOW_CONTROL_QUEUE_METRICS = ("inference_extension_flow_control_queue_size", "llm_d_epp_flow_control_queue_size")


def flow_control_query(models: Sequence[str]) -> str:
    """EPP flow-control queue size by target model (or by model_name when target_model_name is empty), under
    either EPP metric name."""
    target = regex_matcher("target_model_name", models)
    fallback = f'target_model_name="",{regex_matcher("model_name", models)}'
    parts = [f"{m}{{{sel}}}" for m in FLOW_CONTROL_QUEUE_METRICS for sel in (target, fallback)]
    return f"sum by (namespace, target_model_name, model_name) ({' or '.join(parts)})"


def replica_signal_query(metric: str, window_s: float, join_metric: str, app_name: str, deployment: str) -> str:
    """One sample per Ray Serve replica of (app_name, deployment) for one Ray-re-exported vLLM signal.

    Ray labels `ray_vllm_*` by `WorkerId`; a Serve series that carries `WorkerId`, `application`, `deployment` and
    `replica` (`join_metric`) maps workers to replicas, as Ray's own Serve-LLM dashboard does."""
    selector = f"{join_metric}{{{equal_matcher('application', app_name)}, {equal_matcher('deployment', deployment)}}}"
    window = f"{max(1, round(window_s))}s"
    return (
        f"max by (replica) (max_over_time({metric}[{window}]) "
        f"* on (WorkerId) group_left (replica) "
        f"max by (WorkerId, replica) ({selector} * 0 + 1))"
    )


# ---- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Sample:
    labels: Mapping[str, str]
    value: float
    timestamp_s: float


def parse_vector(result: Sequence[Mapping[str, Any]]) -> list[Sample]:
    """Instant-vector results as returned by `/api/v1/query` (`data.result`); NaN and Inf are dropped, malformed
    items skipped. (Hot path: 3,000 pods x 10 queries per cycle, so no ABC isinstance checks per item.)"""
    out: list[Sample] = []
    append = out.append
    for item in result:
        try:
            metric = item["metric"]
            ts_raw, value_raw = item["value"]
            value = float(value_raw)
            ts = float(ts_raw)
        except (KeyError, TypeError, ValueError):
            continue
        if type(metric) is not dict or not math.isfinite(value):
            continue
        append(Sample(metric, value, ts))
    return out


def pod_of(labels: Mapping[str, str]) -> str | None:
    for name in POD_LABELS:
        if labels.get(name):
            return labels[name]
    return None


def values_by_label(samples: Iterable[Sample], label: str) -> dict[str, float]:
    """`{label value: sample value}` of the samples that carry `label` (the last one wins on a repeat)."""
    return {s.labels[label]: s.value for s in samples if isinstance(s.labels.get(label), str)}


PodKey = tuple[str, str, str]  # namespace, model_name, pod


def _by_pod(samples: Iterable[Sample], owned: frozenset[tuple[str, str]]) -> dict[PodKey, float]:
    out: dict[PodKey, float] = {}
    for s in samples:
        ns, model, pod = s.labels.get("namespace"), s.labels.get("model_name"), pod_of(s.labels)
        if ns is None or model is None or pod is None or (ns, model) not in owned:
            continue
        key = (ns, model, pod)
        out[key] = max(out[key], s.value) if key in out else s.value
    return out


def _cache_config(samples: Iterable[Sample]) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for s in samples:
        ns, pod = s.labels.get("namespace"), pod_of(s.labels)
        try:
            blocks, size = int(s.labels["num_gpu_blocks"]), int(s.labels["block_size"])
        except (KeyError, ValueError):
            continue
        if ns is not None and pod is not None and blocks > 0 and size > 0:
            out[(ns, pod)] = (blocks, size)
    return out


def join_pod_rows(
    results: Mapping[str, Sequence[Sample]],
    groups: Sequence[ModelGroupRef],
    eval_ts_s: float,
    stale_after_s: float,
) -> list[PodMetrics]:
    """Join the per-signal samples into one row per pod of the owned groups.

    A pod enters only with a KV or a queue sample (a missing counterpart is 0, as upstream; vLLM exports both
    together). `stale` is set when the pod's newest KV sample is older than `stale_after_s` at `eval_ts_s`, or
    when it has none (the series ended: the pod was stopped or deleted and Prometheus marked it stale).
    """
    owned = frozenset((g.namespace, g.model_id) for g in groups)
    kv = _by_pod(results.get(KV, ()), owned)
    queue = _by_pod(results.get(QUEUE, ()), owned)
    fresh = _by_pod(results.get(FRESHNESS, ()), owned)
    avg_in = _by_pod(results.get(AVG_INPUT, ()), owned)
    avg_out = _by_pod(results.get(AVG_OUTPUT, ()), owned)
    running = _by_pod(results.get(RUNNING, ()), owned)
    arrival = _by_pod(results.get(ARRIVAL, ()), owned)
    cache = _cache_config(results.get(CACHE_CONFIG, ()))
    learned = {k: _by_pod(results[f"learned:{k}"], owned) for k in LEARNED if f"learned:{k}" in results}
    rows: list[PodMetrics] = []
    for key in sorted(kv.keys() | queue.keys()):
        ns, model, pod = key
        blocks, size = cache.get((ns, pod), (None, None))
        last = fresh.get(key)
        rows.append(
            PodMetrics(
                namespace=ns,
                model_name=model,
                pod=pod,
                kv_cache_usage=kv.get(key, 0.0),
                queue_length=queue.get(key, 0.0),
                num_gpu_blocks=blocks,
                block_size=size,
                avg_input_tokens=avg_in.get(key),
                avg_output_tokens=avg_out.get(key),
                stale=last is None or eval_ts_s - last > stale_after_s,
                arrival_rate=arrival.get(key),
                running=running.get(key),
                **_learned_fields(learned, key),
            )
        )
    return rows


def _learned_fields(learned: Mapping[str, Mapping[PodKey, float]], key: PodKey) -> dict[str, float]:
    """The pod's window for analyzer learned; empty without a completions sample (no window to speak of)."""
    if "completions" not in learned or key not in learned["completions"]:
        return {}
    out = {"window_seconds": WINDOW_S}
    for name, values in learned.items():
        if key in values:
            out[name] = values[key]
    return out


def request_count_rows(samples: Iterable[Sample], groups: Sequence[ModelGroupRef]) -> list[RequestCount]:
    owned = {(g.namespace, g.model_id) for g in groups}
    out: dict[tuple[str, str], float] = {}
    for s in samples:
        key = (s.labels.get("namespace", ""), s.labels.get("model_name", ""))
        if key in owned:
            out[key] = out.get(key, 0.0) + s.value
    return [RequestCount(namespace=ns, model_name=m, count=c) for (ns, m), c in sorted(out.items())]


def flow_control_rows(samples: Iterable[Sample], groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
    """Queue size per owned model. A series with a namespace counts only for that namespace's group; one without
    a namespace label gives a row with namespace None."""
    owned = {(g.namespace, g.model_id) for g in groups}
    models = {g.model_id for g in groups}
    out: dict[tuple[str | None, str], float] = {}
    for s in samples:
        model = s.labels.get("target_model_name") or s.labels.get("model_name") or ""
        if model not in models:
            continue
        ns: str | None = s.labels.get("namespace")
        if ns is not None and (ns, model) not in owned:
            continue
        out[(ns, model)] = out.get((ns, model), 0.0) + s.value
    return [
        FlowControlQueue(namespace=ns, model_name=m, size=size)
        for (ns, m), size in sorted(out.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
    ]
