"""Inheritance rules: an item with no match of its own takes its parent's objective.

``{id: from-parent, inherit: parent, decay: 0.8}`` gives an item that no other rule
matched the objective of the parent's latest assessment with evidence x 0.8. The caller
supplies the related assessments (``related(key) -> Assessment | None``), so the engine
stays free of storage.
"""
from __future__ import annotations

from collections.abc import Callable

from itsm_align.scoring.types import Assessment, Match, WorkItem

Related = Callable[[str], "Assessment | None"]


def related_key(item: WorkItem, relation: str) -> str | None:
    """The key of the item's parent, epic or project (None when it has none)."""
    if relation == "parent":
        return item.parent
    if relation == "epic":
        epic = (item.raw or {}).get("epic") or (item.raw or {}).get("epic_link")
        return str(epic) if epic else item.parent
    if relation == "project":
        return None if item.kind == "project" else item.project
    return None


def primary_evidence(assessment: Assessment) -> float:
    """The evidence behind an assessment's primary objective (1.0 when set by a person)."""
    for e in assessment.evidence:
        if e.objective == assessment.objective:
            return e.evidence
    return 1.0 if assessment.overridden else 0.0


def inherited_match(item: WorkItem, rule_id: str, relation: str, decay: float,
                    related: Related | None, known: set[str]) -> tuple[Match | None, str]:
    """The match an inherit rule yields, or None plus why not."""
    key = related_key(item, relation)
    if not key:
        return None, f"item has no {relation}"
    if related is None:
        return None, f"no assessment lookup was given for {relation} {key}"
    if key == item.key:
        return None, f"{relation} is the item itself"
    parent = related(key)
    if parent is None:
        return None, f"{relation} {key} has not been assessed"
    if not parent.aligned:
        return None, f"{relation} {key} is unaligned"
    if parent.objective not in known:
        return None, f"{relation} {key} has objective {parent.objective!r}, which is no longer configured"
    evidence = primary_evidence(parent)
    if evidence <= 0:
        return None, f"{relation} {key} has no evidence for {parent.objective}"
    confidence = evidence * decay
    reason = f"{relation} {key} serves {parent.objective} ({evidence:.2f} x {decay:g})"
    return Match(parent.objective, confidence, rule_id, reason), ""
