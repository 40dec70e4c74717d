"""Domain types shared by every part of itsm-align.

Pure data: no HTTP, Flask, database or platform code may be imported here.
Every other floor (plugins/, integration/, webhooks/) speaks in these types.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Mapping

#: Objective id used when no rule matched. Written to the platforms as the
#: "Unaligned" option / ``unaligned`` choice so that assessed-but-unaligned work
#: is distinguishable from work that was never assessed (empty field).
UNALIGNED = "unaligned"
UNALIGNED_NAME = "Unaligned"


class Nature(str, enum.Enum):
    """Work nature: planned improvement versus reaction to something broken."""

    PROACTIVE = "proactive"
    REACTIVE = "reactive"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class SetBy(str, enum.Enum):
    """Who last set the objective field on the platform."""

    NOBODY = "nobody"  # never set / empty
    INTEGRATION = "integration"  # our own service account
    PERSON = "person"  # anyone else: a human override


@dataclass(frozen=True, slots=True)
class Objective:
    """A business objective the organisation declared.

    ``id`` is stable (used in ServiceNow choice values, history and reports);
    ``name`` is what people see (Jira option value, ServiceNow choice label) and
    may be renamed without losing history.
    """

    id: str
    name: str
    weight: int  # priority weight, 1 (low) .. 5 (high)
    owner: str | None = None
    description: str = ""
    kpis: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutputValues:
    """The values our output fields hold on the platform right now."""

    objective: str | None = None  # objective id, UNALIGNED, or None (never assessed)
    score: float | None = None
    rationale: str | None = None
    nature: Nature | None = None
    objective_set_by: SetBy = SetBy.NOBODY


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A ticket or project from any platform, normalised.

    Adapters fill what the platform has; everything else stays at its default.
    ``raw`` keeps the platform's own fields by their platform id
    (``customfield_10070``, ``u_cost_center``...) with select values reduced to
    their value, so rules can address any field as ``fields.<id>``.
    """

    platform: Literal["jira", "servicenow", "file"]
    key: str  # Jira issue key / ServiceNow number (or sys_id for projects)
    kind: Literal["ticket", "project"] = "ticket"
    id: str | None = None  # Jira issue id / ServiceNow sys_id
    type: str | None = None  # lower-case: incident, bug, story, change, problem, ...
    project: str | None = None  # Jira project key / ServiceNow table or project number
    summary: str = ""
    description: str = ""
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    priority: str | None = None
    status: str | None = None
    assignment_group: str | None = None
    business_service: str | None = None
    ci: str | None = None
    parent: str | None = None  # key of parent / epic
    assignee: str | None = None
    reporter: str | None = None
    effort: float | None = None  # hours (story points are converted by the adapter)
    created: datetime | None = None
    updated: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    current: OutputValues = field(default_factory=OutputValues)

    #: WorkItem attributes rules may address by name (besides ``fields.<id>``)
    ATTRIBUTES = (
        "platform", "key", "kind", "id", "type", "project", "summary", "description",
        "labels", "components", "priority", "status", "assignment_group",
        "business_service", "ci", "parent", "assignee", "reporter", "effort",
        "created", "updated",
    )


@dataclass(frozen=True, slots=True)
class Match:
    """One rule's claim that an item serves an objective."""

    objective: str  # objective id
    confidence: float  # 0..1
    rule_id: str
    reason: str  # human-readable, e.g. "project is SHOP"
    nature: Nature | None = None


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that raised while evaluating an item; the other rules still ran."""

    rule_id: str
    message: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything known for one objective on one item."""

    objective: str
    evidence: float  # noisy-OR of match confidences, 0..1
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class Assessment:
    """The result for one item: what is written back and kept in history."""

    item_key: str
    platform: str
    objective: str  # primary objective id, or UNALIGNED
    score: int  # 0..100
    nature: Nature
    rationale: str  # one line
    evidence: tuple[Evidence, ...] = ()  # every objective with evidence, best first
    ruleset_version: str = ""
    overridden: bool = False
    errors: tuple[RuleError, ...] = ()
    kind: Literal["ticket", "project"] = "ticket"

    @property
    def aligned(self) -> bool:
        return self.objective != UNALIGNED

    @property
    def matches(self) -> tuple[Match, ...]:
        return tuple(m for e in self.evidence for m in e.matches)

    def output(self) -> OutputValues:
        """The values this assessment writes to the platform."""
        return OutputValues(
            objective=self.objective,
            score=self.score,
            rationale=self.rationale,
            nature=self.nature,
            objective_set_by=SetBy.PERSON if self.overridden else SetBy.INTEGRATION,
        )
