"""A Jira CSV export ("Export > Export CSV (all fields)" or "current fields") as items.

The export's real layout: one header row of field *names* ("Summary", "Issue key",
"Issue id", "Issue Type", ...); multi-value fields repeat their column ("Labels",
"Labels", "Component/s", ...); custom fields appear as "Custom field (Story Points)";
dates follow the exporting user's format, by default ``01/Oct/26 9:00 AM``; durations
("Original Estimate", "Time Spent") are seconds. Each row becomes the issue JSON the
REST API would give and goes through :func:`.mapping.issue_to_item`, the adapter's own
mapping.

Column mapping: Issue key -> key, Issue id -> id, Summary, Description, Issue Type ->
type, Project key (else Project name) -> project, Priority, Status, Assignee, Reporter,
Labels -> labels, Component/s -> components, Parent / Parent key / Custom field (Epic
Link) -> parent (a numeric parent id is resolved to its key when that issue is in the
file), Created, Updated, Original Estimate -> effort (hours, as the adapter's default
``effort_field``), Custom field (Story Points) or (Story point estimate) ->
story_points, Time Spent -> time_spent (hours), Team or Custom field (Team) -> team.
Every other column is kept under ``fields.<column name>`` for rules.
"""
from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from itsm_align.scoring.types import OutputValues

from ..exports import ExportedItem, ExportError
from .mapping import issue_to_item

__all__ = ["DATE_FORMATS", "read_jira_export"]

#: Date formats tried in order (Jira's default first); times without a zone are UTC.
DATE_FORMATS = ("%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%Y-%m-%d %H:%M",
                "%Y-%m-%d %H:%M:%S", "%d/%b/%y")
_STORY_POINTS = ("Custom field (Story Points)", "Custom field (Story point estimate)",
                 "Story Points", "Story point estimate")
_TEAM = ("Team", "Custom field (Team)")
_PARENT = ("Parent key", "Parent", "Parent id", "Custom field (Epic Link)")
_MAPPED = {"Summary", "Issue key", "Issue id", "Issue Type", "Project key", "Project name",
           "Priority", "Status", "Assignee", "Reporter", "Labels", "Component/s", "Created",
           "Updated", "Description", "Original Estimate", "Time Spent", *_STORY_POINTS,
           *_TEAM, *_PARENT}


def read_jira_export(text: str, *, base_url: str | None = None) -> list[ExportedItem]:
    """Every issue of a Jira CSV export; :class:`ExportError` lists every bad row."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ExportError(["the file is empty; export issues from Jira as CSV"])
    header = [name.strip() for name in rows[0]]
    if "Issue key" not in header:
        raise ExportError([f"no 'Issue key' column, so this is not a Jira CSV export "
                           f"(columns: {', '.join(header[:8])}...). Export from Jira's issue "
                           "search with Export > CSV, or leave out --platform for a plain "
                           "ticket file"])
    columns: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        columns.setdefault(name, []).append(index)
    ids = {}
    for row in rows[1:]:
        issue_id, key = _first(row, columns, "Issue id"), _first(row, columns, "Issue key")
        if issue_id and key:
            ids[issue_id] = key
    items: list[ExportedItem] = []
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            items.append(_item(row, columns, ids, base_url))
        except ValueError as exc:
            problems.append(f"CSV line {number}: {exc}")
    if problems:
        raise ExportError(problems)
    return items


def _item(row: list[str], columns: dict[str, list[int]], ids: dict[str, str],
          base_url: str | None) -> ExportedItem:
    key = _first(row, columns, "Issue key")
    if not key:
        raise ValueError("'Issue key' is empty; every exported issue has one")
    parent = next((v for v in (_first(row, columns, name) for name in _PARENT) if v), None)
    if parent is not None and parent.isdigit():
        parent = ids.get(parent, parent)
    project = _first(row, columns, "Project key") or _first(row, columns, "Project name")
    if not project and "-" in key:
        project = key.rsplit("-", 1)[0]
    fields: dict[str, Any] = {
        "summary": _first(row, columns, "Summary"),
        "description": _first(row, columns, "Description"),
        "issuetype": _named(_first(row, columns, "Issue Type")),
        "project": {"key": project} if project else None,
        "priority": _named(_first(row, columns, "Priority")),
        "status": _named(_first(row, columns, "Status")),
        "assignee": _person(_first(row, columns, "Assignee")),
        "reporter": _person(_first(row, columns, "Reporter")),
        "labels": _all(row, columns, "Labels"),
        "components": [{"name": name} for name in _all(row, columns, "Component/s")],
        "parent": {"key": parent} if parent else None,
        "created": _time(row, columns, "Created"),
        "updated": _time(row, columns, "Updated"),
        "timeoriginalestimate": _number(row, columns, "Original Estimate"),
    }
    for name, indexes in columns.items():
        if name not in _MAPPED:
            values = [row[i].strip() for i in indexes if i < len(row) and row[i].strip()]
            if values:
                fields[name] = values[0] if len(values) == 1 else values
    issue = {"key": key, "id": _first(row, columns, "Issue id") or None,
             "fields": {k: v for k, v in fields.items() if v not in (None, "", [])}}
    item = issue_to_item(issue, current=OutputValues())
    team = next((v for v in (_first(row, columns, name) for name in _TEAM) if v), None)
    if team:
        item = replace(item, assignment_group=team)
    points = next((v for v in (_number(row, columns, name) for name in _STORY_POINTS)
                   if v is not None), None)
    spent = _number(row, columns, "Time Spent")
    url = f"{base_url.rstrip('/')}/browse/{key}" if base_url else None
    return ExportedItem(item=item, url=url, measures={
        "story_points": points, "time_spent": spent / 3600.0 if spent is not None else None,
        "time_worked": None})


def _first(row: list[str], columns: dict[str, list[int]], name: str) -> str:
    for index in columns.get(name, ()):
        if index < len(row) and row[index].strip():
            return row[index].strip()
    return ""


def _all(row: list[str], columns: dict[str, list[int]], name: str) -> list[str]:
    return [row[i].strip() for i in columns.get(name, ()) if i < len(row) and row[i].strip()]


def _named(value: str) -> dict[str, str] | None:
    return {"name": value} if value else None


def _person(value: str) -> dict[str, str] | None:
    return {"displayName": value} if value else None


def _number(row: list[str], columns: dict[str, list[int]], name: str) -> float | None:
    text = _first(row, columns, name)
    if not text:
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"{name!r} is {text!r}, not a number") from None


def _time(row: list[str], columns: dict[str, list[int]], name: str) -> str | None:
    text = _first(row, columns, name)
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=timezone.utc).isoformat()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name!r} is {text!r}, not a date Jira exports (e.g. "
                         "'01/Oct/26 9:00 AM' or '2026-10-01 09:00'); set your Jira profile's "
                         "date format to the default, or fix the cell") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()
