"""Project rollup: many item assessments -> one project-level figure. Pure.

A project's score is the effort-weighted mean of its items' scores, so one big piece of
unaligned work weighs more than a handful of small aligned chores. Items whose effort is
unknown (or not positive) count as 1.0.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .types import Assessment, Nature

#: Effort an item counts with when its effort is unknown or not positive.
DEFAULT_EFFORT = 1.0


@dataclass(frozen=True)
class ProjectRollup:
    """What a project's items add up to.

    ``effort_share`` maps objective id (``unaligned`` included) to its share 0..1 of the
    total effort; ``reactive_share`` is the effort share of reactive work.
    """

    score: float = 0.0
    effort_share: Mapping[str, float] = field(default_factory=dict)
    item_count: int = 0
    total_effort: float = 0.0
    reactive_share: float = 0.0


def project_rollup(items: Iterable[tuple[Assessment, float | None]]) -> ProjectRollup:
    """Roll ``(assessment, effort)`` pairs up into a :class:`ProjectRollup`."""
    total = weighted = reactive = 0.0
    per_objective: dict[str, float] = {}
    count = 0
    for assessment, effort in items:
        w = effort if effort is not None and effort == effort and effort > 0 else DEFAULT_EFFORT
        count += 1
        total += w
        weighted += w * assessment.score
        per_objective[assessment.objective] = per_objective.get(assessment.objective, 0.0) + w
        if assessment.nature is Nature.REACTIVE:
            reactive += w
    if not count:
        return ProjectRollup()
    shares = {oid: e / total for oid, e in sorted(per_objective.items(), key=lambda kv: -kv[1])}
    # a mean of 0..100 scores is 0..100; float rounding of sum(w * s) / sum(w) can land a
    # hair outside (100.00000000000001), which a JQL range filter or a check would trip on
    return ProjectRollup(
        score=min(100.0, max(0.0, weighted / total)),
        effort_share=shares,
        item_count=count,
        total_effort=total,
        reactive_share=min(1.0, reactive / total),
    )
