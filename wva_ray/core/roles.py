"""Prefill/decode roles: the variants of one model group sized per role, as WVA v0.9 groups them. Pure.

(upstream-v0.9.md sections 1 and 3: `llm-d.ai/role` on the target's pod template takes `prefill` or `decode`,
anything else counts as `both`; the capacity post-step runs at model and role level, so a saturated prefill pool
grows without the idle decode pool's spare capacity hiding it, and the other way round.)

- A variant's role is its VA's `llm-d.ai/role` label: annotation discovery copies it there from the pod template
  (`core.annotated.role_of`); a CRD VA may carry it too. No label: `both`.
- A group whose variants all share one role (every VA-path snapshot without the label) is sized as one call,
  exactly as before.
- Otherwise the analyzer runs once per role on that role's variants; the capacity history the first role updates
  is what the next role reads. Analyzers that keep learned per-group state (`slo`, `learned`) are not split
  (their state is one per model group); they size the group whole and say so in a step.
"""

from __future__ import annotations

from dataclasses import replace

from wva_ray.api.scaler import ROLE_LABEL
from wva_ray.core.analyzers.base import Analyzer, AnalyzerSettings, GroupState, ModelGroup, Sizing
from wva_ray.core.variants import Variant

ROLES = ("prefill", "decode")
BOTH = "both"
UNSPLIT = frozenset({"slo", "learned"})


def role_of(v: Variant) -> str:
    value = v.va.metadata.labels.get(ROLE_LABEL, "").strip()
    return value if value in ROLES else BOTH


def by_role(variants: tuple[Variant, ...]) -> dict[str, tuple[Variant, ...]]:
    """Variants per role, roles in a fixed order (prefill, decode, both)."""
    out: dict[str, tuple[Variant, ...]] = {}
    for role in (*ROLES, BOTH):
        members = tuple(v for v in variants if role_of(v) == role)
        if members:
            out[role] = members
    return out


def size_by_role(analyzer: Analyzer, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing:
    """The analyzer's sizing of the group, per role when the group has more than one."""
    roles = by_role(group.variants)
    if len(roles) <= 1:
        return analyzer.size(group, settings, state)
    if analyzer.label in UNSPLIT:
        whole = analyzer.size(group, settings, state)
        note = f"roles {', '.join(roles)}: analyzer {analyzer.label} keeps one state per model; sized as one group"
        return replace(whole, steps=(note, *whole.steps))
    history: dict[str, list[float]] = {}
    targets: dict[str, int] = {}
    reasons: dict[str, str] = {}
    cpc: dict[str, float] = {}
    steps: list[str] = []
    warnings: list[str] = []
    timed_out: set[str] = set()
    for role, members in roles.items():
        sub = replace(group, variants=members)
        sub_state = replace(state, capacity_history={**state.capacity_history, **history})
        s = analyzer.size(sub, settings, sub_state)
        history.update(s.history)
        targets.update(s.targets)
        reasons.update({k: f"role {role}: {r}" for k, r in s.reasons.items()})
        cpc.update(s.cost_per_capacity)
        steps += [f"role {role} ({', '.join(v.name for v in members)}):", *(f"  {x}" for x in s.steps)]
        warnings += s.warnings
        timed_out |= s.timed_out
    return Sizing(targets, reasons, tuple(steps), cpc, frozenset(timed_out), history=history, warnings=tuple(warnings))
