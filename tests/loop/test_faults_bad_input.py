"""Bad input through the real API while the closed loop runs (tests/loop/rig.py): generated VariantAutoscalings
(tests/loop/bad_input.py; 1000, about half refused by the CRD schema, the rest accepted but invalid) and
namespace ConfigMaps full of unparsable entries. Goals: the controller never crashes (same process, same Ray
actors), every invalid object gets a condition (VA) or an Event (ConfigMap) naming the field and the value, the
API server's refusals name them too, and the valid neighbour (the loop's VA) keeps being scaled under a load
step. Figures go to benchmarks/results/faults/bad_input.json. Run: `pytest tests/loop -k bad_input`.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.kube.manifests import apply, wait_for
from tests.loop.bad_input import BadEntry, BadVA, bad_entries, bad_vas
from tests.loop.faults import FAULT_RPS, FAULTS_DIR, steady
from tests.loop.rig import LoopRig
from tests.loop.timeline import Sampler
from wva_ray.adapters.kube.client import KubeApiError, KubeInvalid

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

BAD_NS = "bad-input"
N_VAS = 1000
CM_NAMESPACES = 20
ENTRIES_PER_CM = 12
STEP_RPS = 7.0


def _post(api: Any, case: BadVA) -> tuple[BadVA, str | None]:
    """(case, refusal message or None when accepted)."""
    try:
        api.post(f"/apis/llmd.ai/v1alpha1/namespaces/{BAD_NS}/variantautoscalings", case.doc)
        return case, None
    except KubeInvalid as exc:
        return case, exc.message
    except KubeApiError as exc:
        return case, f"HTTP {exc.status}: {exc.message}"


def _wait_empty(check: Any, timeout_s: float) -> list[Any]:
    """Poll `check()` (a list of what is still missing) until it is empty or time is up; the last list."""
    deadline = time.monotonic() + timeout_s
    left: list[Any] = check()
    while left and time.monotonic() < deadline:
        time.sleep(3)
        left = check()
    return left


def _false_messages(va: dict[str, Any]) -> str:
    conds = (va.get("status") or {}).get("conditions") or []
    return " | ".join(
        str(c.get("message")) for c in conds if c.get("status") == "False" and c.get("type") != "TargetConflict"
    )


def test_fault_bad_input_vas_and_configmaps(loop: tuple[LoopRig, Sampler]) -> None:
    rig, sampler = loop
    assert rig.api is not None and rig.load is not None
    api = rig.api
    steady(rig, sampler)
    leader = rig.leader()
    assert leader is not None
    actors_before = sorted(rig.ray_actor_pids(leader, "ShardActor") + rig.ray_actor_pids(leader, "CoordinatorActor"))
    ready_before = sampler.rows[-1].ready_replicas or 0
    restarts_before = rig.controller_restarts()
    t0 = sampler.mark("bad input")
    rig.load.set_rate(STEP_RPS)  # the valid neighbour must still scale up meanwhile

    # -- ConfigMaps: one per namespace, every entry unparsable
    rng = random.Random(18)
    cm_cases: dict[str, list[BadEntry]] = {}
    for i in range(CM_NAMESPACES):
        ns = f"bad-cm-{i:02d}"
        apply(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        entries = bad_entries(ENTRIES_PER_CM, rng)
        cm_cases[ns] = entries
        apply(
            api,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "wva-saturation-scaling-config", "namespace": ns},
                "data": {e.key: e.text for e in entries},
            },
        )
    # -- VAs
    apply(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": BAD_NS}})
    cases = bad_vas(BAD_NS, N_VAS)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: _post(api, c), cases))
    apply_s = time.monotonic() - started

    refused = [(c, m) for c, m in results if m is not None]
    accepted = [c for c, m in results if m is None]
    wrong_refusals = [(c.field, c.value, m) for c, m in refused if c.expect != "reject"]
    unnamed_refusals = [(c.field, c.value, m) for c, m in refused if c.field not in m or c.value not in m]
    wrong_accepts = [(c.field, c.value) for c in accepted if c.expect != "condition"]

    def all_conditioned() -> list[tuple[str, str, str]]:
        items = {
            v["metadata"]["name"]: v
            for v in api.get(f"/apis/llmd.ai/v1alpha1/namespaces/{BAD_NS}/variantautoscalings")["items"]
        }
        missing = []
        for c in accepted:
            msg = _false_messages(items.get(c.doc["metadata"]["name"], {}))
            if c.field not in msg or c.value not in msg:
                missing.append((c.doc["metadata"]["name"], f"{c.field} {c.value}", msg))
        return missing

    def events_named() -> list[str]:
        missing = []
        for ns, entries in cm_cases.items():
            items = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
            text = " ".join(e.get("message", "") for e in items if e.get("reason") == "InvalidConfiguration")
            for e in entries:
                path = f"config.namespaces.{ns}.saturation.{e.key}"
                if path not in text or (e.field and f"{e.field}" not in text) or (e.value and e.value not in text):
                    missing.append(f"{path} {e.field} {e.value}")
        return missing

    t_wait = time.monotonic()
    unconditioned = _wait_empty(all_conditioned, 240)
    conditions_s = time.monotonic() - t_wait
    unevented = _wait_empty(events_named, 120)
    # a generous bound (the time is measured and reported in bad_input.json): at load average ~19 on 2 cores the
    # neighbour's scale-up once took over 180 s while the controller worked through the 1000 VAs
    wait_for(
        lambda: (sampler.rows[-1].ready_replicas or 0) > ready_before, 300, poll_s=1, what="the neighbour scaled up"
    )
    t1 = sampler.mark("neighbour scaled")
    rig.load.set_rate(FAULT_RPS)

    window = sampler.since(t0)
    leader_after = rig.leader()
    actors_after = sorted(rig.ray_actor_pids(leader, "ShardActor") + rig.ray_actor_pids(leader, "CoordinatorActor"))
    writes = [r.va_status_writes for r in window if r.va_status_writes is not None]
    summary = {
        "command": "pytest tests/loop -k bad_input",
        "vas_generated": N_VAS,
        "vas_refused_by_api": len(refused),
        "vas_accepted_invalid": len(accepted),
        "configmap_entries": CM_NAMESPACES * ENTRIES_PER_CM,
        "apply_seconds": round(apply_s, 1),
        "seconds_until_every_accepted_va_conditioned": round(conditions_s, 1),
        "accepted_vas_unconditioned": len(unconditioned),
        "configmap_entries_unnamed": len(unevented),
        "va_status_writes_in_window": (writes[-1] - writes[0]) if writes else None,
        "neighbour_ready_before_after": [ready_before, window[-1].ready_replicas],
        "seconds_until_neighbour_scaled": round(t1 - t0, 1),
        "controller_alive": leader.alive,
        "controller_restarts": rig.controller_restarts() - restarts_before,
        "actors_restarted": actors_before != actors_after,
    }
    FAULTS_DIR.mkdir(parents=True, exist_ok=True)
    (FAULTS_DIR / "bad_input.json").write_text(json.dumps(summary, indent=1) + "\n")

    for ns in [BAD_NS, *cm_cases]:  # clean up (asynchronously: namespace deletion)
        api.delete(f"/api/v1/namespaces/{ns}")
    assert not unconditioned, f"{len(unconditioned)} accepted VAs without a naming condition: {unconditioned[:3]}"
    assert not unevented, f"{len(unevented)} bad ConfigMap entries not named by an Event: {unevented[:3]}"
    assert not wrong_refusals, wrong_refusals[:5]
    assert not unnamed_refusals, unnamed_refusals[:5]
    assert not wrong_accepts, wrong_accepts[:5]
    assert rig.controller_restarts() == restarts_before, "the controller process crashed"
    assert leader.alive and leader_after is leader, "the controller crashed or lost the lead"
    assert actors_before == actors_after, f"Ray actors restarted: {actors_before} -> {actors_after}"
    assert all(r.desired is None or r.desired >= 1 for r in window)
