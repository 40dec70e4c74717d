"""ServiceNow record -> WorkItem, and OutputValues -> column values.

A record here is ``{column: {"value": str, "display_value": str}}`` as the
Table API returns it with ``sysparm_display_value=all``. Every value on the
wire is a string; this module is the one place that turns them into types.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from itsm_align.scoring.types import Nature, OutputValues, SetBy, WorkItem

from .settings import ServiceNowColumns

#: sys_class_name -> WorkItem.type
TYPES: dict[str, str] = {
    "incident": "incident",
    "problem": "problem",
    "change_request": "change",
    "sc_req_item": "service request",
    "rm_story": "story",
    "pm_project": "project",
}
PROJECT_CLASSES = frozenset({"pm_project"})

#: Columns every fetch reads (besides our own and those the rules read).
BASE_FIELDS: tuple[str, ...] = (
    "number", "sys_class_name", "short_description", "description", "priority", "state",
    "assignment_group", "business_service", "cmdb_ci", "parent", "caller_id", "opened_by",
    "assigned_to", "time_worked", "effort", "sys_created_on", "opened_at", "sys_updated_on",
    "sys_updated_by", "sys_mod_count", "top_task", "parent.sys_class_name",
)


def value(record: Mapping[str, Mapping[str, str]], column: str) -> str:
    cell = record.get(column)
    if cell is None:
        return ""
    return str(cell.get("value") or "")


def display(record: Mapping[str, Mapping[str, str]], column: str) -> str:
    cell = record.get(column)
    if cell is None:
        return ""
    return str(cell.get("display_value") or cell.get("value") or "")


def parse_time(text: str) -> datetime | None:
    """``2026-11-27 02:00:00`` (GMT, as the API returns values) -> aware datetime."""
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def duration_hours(text: str) -> float | None:
    """A glide_duration value -> hours.

    The Table API returns durations as a date-time after the epoch
    (``1970-01-01 02:30:00`` = 2.5 h); plain seconds are accepted too.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text) / 3600.0
    except ValueError:
        pass
    moment = parse_time(text)
    if moment is None:
        return None
    seconds = (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()
    return seconds / 3600.0 if seconds > 0 else None


def _float(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def output_values(record: Mapping[str, Mapping[str, str]], columns: ServiceNowColumns,
                  set_by: SetBy | None = None) -> OutputValues:
    """Our four columns as they are on the record now."""
    objective = value(record, columns.objective) or None
    nature_text = value(record, columns.nature)
    try:
        nature = Nature(nature_text) if nature_text else None
    except ValueError:
        nature = None
    return OutputValues(
        objective=objective,
        score=_float(value(record, columns.score)),
        rationale=value(record, columns.rationale) or None,
        nature=nature,
        objective_set_by=set_by if set_by is not None else (SetBy.NOBODY if objective is None else SetBy.INTEGRATION),
    )


def to_work_item(table: str, record: Mapping[str, Mapping[str, str]], columns: ServiceNowColumns,
                 set_by: SetBy) -> WorkItem:
    """Normalise one record (fetched from ``table``) into a WorkItem."""
    cls = value(record, "sys_class_name") or table
    kind = "project" if cls in PROJECT_CLASSES else "ticket"
    effort = duration_hours(value(record, "time_worked")) or duration_hours(value(record, "effort"))
    raw: dict[str, Any] = {name: cell.get("value", "") for name, cell in record.items()}
    if kind == "project":
        project = value(record, "number") or cls
    elif display(record, "top_task"):  # project tasks: their project
        project = display(record, "top_task")
    elif value(record, "parent.sys_class_name") in PROJECT_CLASSES:  # a task filed under a project
        project = display(record, "parent")
    else:
        project = cls
    return WorkItem(
        platform="servicenow",
        key=value(record, "number") or value(record, "sys_id"),
        kind=kind,
        id=value(record, "sys_id") or None,
        type=TYPES.get(cls, cls.replace("_", " ")),
        project=project,
        summary=value(record, "short_description"),
        description=value(record, "description"),
        priority=display(record, "priority") or None,
        status=display(record, "state") or None,
        assignment_group=display(record, "assignment_group") or None,
        business_service=display(record, "business_service") or None,
        ci=display(record, "cmdb_ci") or None,
        parent=display(record, "parent") or None,
        assignee=display(record, "assigned_to") or None,
        reporter=display(record, "caller_id") or display(record, "opened_by") or None,
        effort=effort,
        created=parse_time(value(record, "sys_created_on") or value(record, "opened_at")),
        updated=parse_time(value(record, "sys_updated_on")),
        raw=raw,
        current=output_values(record, columns, set_by),
    )


def trim(text: str, limit: int) -> str:
    """Trim to the column length, marking the cut with an ellipsis."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def column_changes(current: OutputValues, wanted: OutputValues, columns: ServiceNowColumns,
                   rationale_length: int) -> dict[str, str]:
    """Column -> new string value, only for values that differ from ``current``.

    The objective is never included when a person set it (override).
    """
    changes: dict[str, str] = {}
    if (wanted.objective is not None and current.objective_set_by is not SetBy.PERSON
            and wanted.objective != current.objective):
        changes[columns.objective] = wanted.objective
    if wanted.score is not None:
        score = int(round(float(wanted.score)))
        if current.score is None or int(round(current.score)) != score:
            changes[columns.score] = str(score)
    if wanted.rationale is not None:
        rationale = trim(wanted.rationale, rationale_length)
        if rationale != trim(current.rationale or "", rationale_length):
            changes[columns.rationale] = rationale
    if wanted.nature is not None and wanted.nature != current.nature:
        changes[columns.nature] = Nature(wanted.nature).value
    return changes
