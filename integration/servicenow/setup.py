"""Set-up on the instance: our four columns on ``task`` and their choices.

Declarative: ``desired_columns`` / ``desired_choices`` say what should exist
(also used by updateset.py, so the REST set-up and the update set never
disagree); ``plan`` compares that with the instance (two GETs) and ``apply``
performs the missing steps. A second run finds everything in place and writes
nothing. Choices are never deleted: a removed objective's choice becomes
inactive, so history and old records keep their label.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from itsm_align.integration.base import SetupStep
from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Nature, Objective

from .client import SnClient
from .mapping import value
from .settings import ServiceNowColumns

OBJECTIVE_ID_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Column:
    element: str
    internal_type: str
    label: str
    max_length: int | None = None
    choice: bool = False

    def dictionary_values(self, table: str) -> dict[str, str]:
        values = {"name": table, "element": self.element, "internal_type": self.internal_type,
                  "column_label": self.label, "active": "true"}
        if self.max_length:
            values["max_length"] = str(self.max_length)
        if self.choice:
            values["choice"] = "1"  # dropdown with -- None --
        return values


@dataclass(frozen=True, slots=True)
class Choice:
    element: str
    value: str
    label: str
    sequence: int
    inactive: bool = False

    def values(self, table: str) -> dict[str, str]:
        return {"name": table, "element": self.element, "value": self.value, "label": self.label,
                "sequence": str(self.sequence), "language": "en",
                "inactive": "true" if self.inactive else "false"}


def desired_columns(columns: ServiceNowColumns, rationale_length: int) -> list[Column]:
    return [
        Column(columns.objective, "string", "Business objective", OBJECTIVE_ID_LENGTH, choice=True),
        Column(columns.score, "integer", "Alignment score"),
        Column(columns.rationale, "string", "Alignment rationale", rationale_length),
        Column(columns.nature, "string", "Work nature", 40, choice=True),
    ]


def desired_choices(objectives: Sequence[Objective], columns: ServiceNowColumns,
                    retired: Sequence[Choice] = ()) -> list[Choice]:
    """Active choices for the objectives, ``unaligned`` and the natures, plus
    ``retired`` (choices of removed objectives) marked inactive."""
    wanted = [Choice(columns.objective, o.id, o.name, (i + 1) * 10) for i, o in enumerate(objectives)]
    wanted.append(Choice(columns.objective, UNALIGNED, UNALIGNED_NAME, 10_000))
    wanted += [Choice(columns.nature, n.value, n.label, (i + 1) * 10) for i, n in enumerate(Nature)]
    ids = {c.value for c in wanted if c.element == columns.objective}
    wanted += [replace(c, inactive=True) for c in retired if c.value not in ids]
    return wanted


@dataclass
class Plan:
    steps: list[SetupStep] = field(default_factory=list)
    actions: list[Callable[[], Any] | None] = field(default_factory=list)

    def add(self, step: SetupStep, action: Callable[[], Any] | None = None) -> None:
        self.steps.append(step)
        self.actions.append(action)


def plan(client: SnClient, objectives: Sequence[Objective], columns: ServiceNowColumns, *,
         rationale_length: int, table: str = "task") -> Plan:
    """Compare the instance with what we need (two GETs) and list the steps."""
    _check_ids(objectives)
    result = Plan()
    wanted_columns = desired_columns(columns, rationale_length)
    elements = ",".join(c.element for c in wanted_columns)
    existing = {value(r, "element"): r for r in client.query(
        "sys_dictionary", f"name={table}^elementIN{elements}",
        ["element", "internal_type", "max_length", "choice"], limit=100)}
    for column in wanted_columns:
        target = f"{table}.{column.element}"
        if column.element in existing:
            result.add(SetupStep("create column", target, f"{column.internal_type} already exists", needed=False))
        else:
            body = column.dictionary_values(table)
            result.add(SetupStep("create column", target, f"{column.internal_type} '{column.label}'"),
                       lambda body=body: client.post("sys_dictionary", body))

    choice_rows = client.query(
        "sys_choice", f"name={table}^elementIN{columns.objective},{columns.nature}",
        ["element", "value", "label", "inactive", "sequence", "language"], limit=10_000)
    have: dict[tuple[str, str], dict] = {}
    for row in choice_rows:
        have.setdefault((value(row, "element"), value(row, "value")), row)
    active_ids = {o.id for o in objectives} | {UNALIGNED}
    retired = [Choice(columns.objective, value(r, "value"), value(r, "label"), _int(value(r, "sequence")))
               for (element, val), r in have.items() if element == columns.objective and val not in active_ids]
    for choice in desired_choices(objectives, columns, retired):
        target = f"{table}.{choice.element}={choice.value}"
        row = have.get((choice.element, choice.value))
        if row is None:
            if choice.inactive:
                continue
            body = choice.values(table)
            result.add(SetupStep("add choice", target, f"label '{choice.label}'"),
                       lambda body=body: client.post("sys_choice", body))
            continue
        changes: dict[str, str] = {}
        if not choice.inactive and value(row, "label") != choice.label:
            changes["label"] = choice.label
        if _truthy(value(row, "inactive")) != choice.inactive:
            changes["inactive"] = "true" if choice.inactive else "false"
        if not changes:
            result.add(SetupStep("sync choice", target, "in place", needed=False))
            continue
        action = ("deactivate choice" if changes.get("inactive") == "true"
                  else "rename choice" if "label" in changes else "reactivate choice")
        detail = ", ".join(f"{k} -> '{v}'" for k, v in changes.items())
        sys_id = value(row, "sys_id")
        result.add(SetupStep(action, target, detail),
                   lambda sys_id=sys_id, changes=changes: client.patch("sys_choice", sys_id, changes))
    return result


def apply(plan_: Plan, *, dry_run: bool) -> list[SetupStep]:
    """Run the needed steps (none in a dry run); steps come back marked ``done``."""
    done: list[SetupStep] = []
    for step, action in zip(plan_.steps, plan_.actions):
        if step.needed and action is not None and not dry_run:
            action()
            step = replace(step, done=True)
        done.append(step)
    return done


def _check_ids(objectives: Sequence[Objective]) -> None:
    seen: set[str] = set()
    for o in objectives:
        if o.id == UNALIGNED:
            raise ValueError(f"objective id '{UNALIGNED}' is reserved for unaligned work; rename it")
        if not o.id or len(o.id) > OBJECTIVE_ID_LENGTH:
            raise ValueError(f"objective id {o.id!r} must be 1-{OBJECTIVE_ID_LENGTH} characters "
                             "(it is the ServiceNow choice value)")
        if o.id in seen:
            raise ValueError(f"objective id {o.id!r} appears twice; ids must be unique")
        seen.add(o.id)


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
