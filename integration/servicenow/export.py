"""A ServiceNow list export (CSV, or JSON) of ``incident``, ``task`` and other task
tables as items.

CSV: a list's *Export > CSV*: one header row of column names (``number``,
``short_description``, ``assignment_group``, ``time_worked``, ``sys_created_on`` ...;
headers given as labels, such as "Short description" or "Assignment group", are
accepted too), display values in the cells. JSON: ``{"records": [...]}`` (the ``JSON``
/ ``JSONv2`` web service), ``{"result": [...]}`` (the Table API, values plain or
``{"value", "display_value"}``) or a plain list of objects.

Each row goes through :func:`.mapping.to_work_item`, the adapter's own mapping: number
-> key, sys_id -> id, sys_class_name (else the number's prefix: INC incident, PRB
problem, CHG change_request, RITM sc_req_item, STRY rm_story, PRJ pm_project, else task)
-> type, short_description -> summary, description, priority, state -> status,
assignment_group -> team, business_service, cmdb_ci -> ci, parent, caller_id /
opened_by -> reporter, assigned_to -> assignee, time_worked -> effort and time_worked
(hours), sys_created_on / opened_at -> created, sys_updated_on -> updated; every column
is kept under ``fields.<column>`` for rules. Durations may be ``1970-01-01 02:30:00``,
seconds, ``02:30:00`` or ``2 Hours 30 Minutes``; times are UTC.
"""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Mapping

from itsm_align.scoring.types import SetBy

from ..exports import ExportedItem, ExportError
from .mapping import duration_hours, parse_time, to_work_item
from .settings import ServiceNowColumns

__all__ = ["read_servicenow_export"]

#: Number prefix -> table, for exports without ``sys_class_name``.
PREFIXES = {"INC": "incident", "PRB": "problem", "CHG": "change_request", "RITM": "sc_req_item",
            "STRY": "rm_story", "PRJ": "pm_project", "TASK": "task"}
#: Column labels (as a list shows them) -> column names.
LABELS = {"created": "sys_created_on", "updated": "sys_updated_on", "opened": "opened_at",
          "task_type": "sys_class_name", "class": "sys_class_name",
          "configuration_item": "cmdb_ci", "caller": "caller_id", "opened_by": "opened_by",
          "service": "business_service", "time_worked": "time_worked"}
_UNITS = {"day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600}
_DURATION_WORDS = re.compile(r"(\d+(?:\.\d+)?)\s*(day|hour|minute|second)s?", re.I)
_CLOCK = re.compile(r"^(?:(\d+)\s+)?(\d+):(\d{2})(?::(\d{2}))?$")


def read_servicenow_export(text: str, fmt: str, *, base_url: str | None = None
                           ) -> list[ExportedItem]:
    """Every record of a ServiceNow CSV or JSON export; :class:`ExportError` lists every
    bad record."""
    rows = _rows(text, fmt)
    items: list[ExportedItem] = []
    problems: list[str] = []
    for index, row in enumerate(rows):
        where = f"CSV line {index + 2}" if fmt == "csv" else f"record[{index}]"
        try:
            items.append(_item(row, base_url))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise ExportError(problems)
    return items


def _rows(text: str, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        names = [_column(name) for name in (reader.fieldnames or [])]
        if "number" not in names:
            raise ExportError([f"no 'number' column, so this is not a ServiceNow list export "
                               f"(columns: {', '.join((reader.fieldnames or [])[:8])}). Export "
                               "the list with its Number column, or leave out --platform for a "
                               "plain ticket file"])
        return [{_column(k): v for k, v in row.items() if k is not None} for row in reader]
    if fmt in ("json", "jsonl"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExportError([f"invalid JSON at line {exc.lineno} column {exc.colno}: "
                               f"{exc.msg}"]) from None
        if isinstance(data, Mapping):
            data = data.get("records", data.get("result"))
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise ExportError(["a ServiceNow JSON export holds {\"records\": [...]}, "
                               "{\"result\": [...]} or a list of record objects"])
        return [dict(r) for r in data]
    raise ExportError([f"a ServiceNow export is .csv or .json, not {fmt!r}"])


def _column(name: str) -> str:
    plain = re.sub(r"[^a-z0-9_.]+", "_", name.strip().lower()).strip("_")
    return LABELS.get(plain, plain)


def _cell(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        raw = value.get("value", value.get("display_value", ""))
        shown = value.get("display_value", raw)
        return {"value": "" if raw is None else str(raw), "display_value":
                "" if shown is None else str(shown)}
    text = "" if value is None else str(value)
    return {"value": text, "display_value": text}


def _item(row: Mapping[str, Any], base_url: str | None) -> ExportedItem:
    record = {name: _cell(value) for name, value in row.items()}
    number = record.get("number", {}).get("value", "").strip()
    if not number:
        raise ValueError("'number' is empty; every exported record has one")
    table = record.get("sys_class_name", {}).get("value", "").strip()
    if not table or " " in table:  # a label such as "Incident" is not a table name
        prefix = re.match(r"[A-Z]+", number)
        table = PREFIXES.get(prefix.group(0) if prefix else "", "task")
        record["sys_class_name"] = {"value": table, "display_value": table}
    for column in ("time_worked", "effort"):
        if column in record:
            hours = _hours(record[column]["value"], column)
            seconds = "" if hours is None else str(round(hours * 3600))
            record[column] = {"value": seconds, "display_value": seconds}
    for column in ("sys_created_on", "opened_at", "sys_updated_on"):
        text = record.get(column, {}).get("value", "").strip()
        if text and parse_time(text) is None:
            raise ValueError(f"{column!r} is {text!r}, not a date-time such as "
                             "'2026-10-01 09:00:00'; export with the system date format")
    item = to_work_item(table, record, ServiceNowColumns(), SetBy.NOBODY)
    url = None
    if base_url:
        base = base_url.rstrip("/")
        url = (f"{base}/{table}.do?sys_id={item.id}" if item.id else
               f"{base}/{table}.do?sysparm_query=number={number}")
    worked = duration_hours(record.get("time_worked", {}).get("value", ""))
    return ExportedItem(item=item, url=url, measures={
        "story_points": None, "time_spent": None, "time_worked": worked})


def _hours(text: str, column: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    hours = duration_hours(text)
    if hours is not None or parse_time(text) is not None:
        return hours  # a zero duration is no effort
    clock = _CLOCK.match(text)
    if clock:
        days, h, m, s = (int(part or 0) for part in clock.groups())
        return days * 24 + h + m / 60 + s / 3600
    words = _DURATION_WORDS.findall(text)
    if words:
        return sum(float(amount) * _UNITS[unit.lower()] for amount, unit in words)
    raise ValueError(f"{column!r} is {text!r}, not a duration (e.g. '2 Hours 30 Minutes', "
                     "'02:30:00' or seconds)")
