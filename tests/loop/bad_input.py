"""Generated bad input for the controller (test helper, pure): VariantAutoscalings and ConfigMap entries, each
with the field and value that make it invalid and where the complaint must show up.

A seeded generator (property-based in spirit: random combinations drawn from per-field pools of bad values,
reproducible from the seed). `expect`:
- "reject": the API server must refuse it (422) with a message naming the field and the value;
- "condition": the API server accepts it (no CEL on 1.20) and the controller must put a False condition on the
  VA whose message names the field and the value;
- "event" (ConfigMap entries): the controller must emit an `InvalidConfiguration` Event on the ConfigMap whose
  message names the entry's key path and the value.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

ACCELERATOR_LABEL = "inference.optimization/acceleratorName"


@dataclass(frozen=True)
class BadVA:
    doc: dict[str, Any]
    expect: str  # "reject" | "condition"
    field: str
    value: str


@dataclass(frozen=True)
class BadEntry:
    key: str
    text: str  # the ConfigMap value (a YAML blob)
    field: str  # what the warning path must contain after the key
    value: str  # what the warning must quote


def _va(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{name}-target"},
        "modelID": "bad-model",
    }
    base.update(spec)
    return {
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {"name": name, "namespace": namespace, "labels": {ACCELERATOR_LABEL: "H100"}},
        "spec": base,
    }


def bad_vas(namespace: str, n: int, seed: int = 18) -> list[BadVA]:
    rng = random.Random(seed)
    out: list[BadVA] = []
    for i in range(n):
        name = f"bad-{i:05d}"
        kind = rng.choice(["minNeg", "maxLow", "prio", "cost", "modelEmpty", "minGtMax", "noTarget", "kind"])
        if kind == "minNeg":
            v = -rng.randint(1, 10**6)
            out.append(BadVA(_va(namespace, name, {"minReplicas": v}), "reject", "spec.minReplicas", str(v)))
        elif kind == "maxLow":
            v = -rng.randint(0, 1000)
            out.append(BadVA(_va(namespace, name, {"maxReplicas": v}), "reject", "spec.maxReplicas", str(v)))
        elif kind == "prio":
            v = rng.choice([-rng.randint(1, 99), 1000 + rng.randint(1, 10**6)])
            out.append(BadVA(_va(namespace, name, {"priority": v}), "reject", "spec.priority", str(v)))
        elif kind == "cost":
            v = rng.choice(["abc", "1e3", "-1", "10.", ".5", "1,5", "ten", f"{rng.random():.3f}x"])
            out.append(BadVA(_va(namespace, name, {"variantCost": v}), "reject", "spec.variantCost", v))
        elif kind == "modelEmpty":
            out.append(BadVA(_va(namespace, name, {"modelID": ""}), "reject", "spec.modelID", '""'))
        elif kind == "minGtMax":
            hi = rng.randint(1, 50)
            lo = hi + rng.randint(1, 50)
            doc = _va(namespace, name, {"minReplicas": lo, "maxReplicas": hi})
            out.append(BadVA(doc, "condition", "spec.minReplicas", f"({lo})"))
        elif kind == "noTarget":
            target = f"missing-{rng.randint(0, 10**9)}"
            ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}
            out.append(BadVA(_va(namespace, name, {"scaleTargetRef": ref}), "condition", "scale target", target))
        else:
            k = f"Widget{rng.randint(0, 10**6)}"
            ref = {"apiVersion": "example.com/v1", "kind": k, "name": "w"}
            out.append(BadVA(_va(namespace, name, {"scaleTargetRef": ref}), "condition", "", k))
    return out


def bad_entries(n: int, rng: random.Random) -> list[BadEntry]:
    """Saturation ConfigMap entries that cannot be parsed (each fails for one reason)."""
    out: list[BadEntry] = []
    for i in range(n):
        key = f"e{i:03d}"
        kind = rng.choice(["kvType", "queueType", "boolType", "brokenYaml", "notMapping"])
        if kind == "kvType":
            v = rng.choice(["banana", "high", "0.8.1", "[0.8]"])
            text = f"model_id: m{i}\nkvCacheThreshold: {v}\n"
            out.append(BadEntry(key, text, "kvCacheThreshold", v.strip("[]") if v.startswith("[") else v))
        elif kind == "queueType":
            v = rng.choice(["lots", "five", "{}"])
            out.append(BadEntry(key, f"model_id: m{i}\nqueueLengthThreshold: {v}\n", "queueLengthThreshold", ""))
        elif kind == "boolType":
            v = rng.choice(["maybe", "sometimes", "2"])
            out.append(BadEntry(key, f"model_id: m{i}\nenableLimiter: {v}\n", "enableLimiter", v))
        elif kind == "brokenYaml":
            out.append(BadEntry(key, "model_id: [m\nkvCacheThreshold: 0.8\n", "", ""))
        else:
            out.append(BadEntry(key, "- just\n- a list\n", "", ""))
    return out
