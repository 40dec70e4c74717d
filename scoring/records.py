"""Work items from plain records, and assessments back to flat records.

A record is what a ticket file holds: a JSON object or a CSV row whose keys
are WorkItem attribute names. This is how ``itsm-align score`` and ``explain``
read tickets without a platform. Pure: text in, objects out; no file I/O.

Record keys:
  platform (jira | servicenow | file, default file), key (required), kind
  (ticket | project), id, type, project, summary, description, priority,
  status, assignment_group, business_service, ci, parent, assignee, reporter,
  effort (hours), created, updated (ISO 8601), labels, components (a list or a
  comma-separated string), fields (an object of raw platform fields; in CSV
  one column per field, ``fields.<id>``), current (an object ``{objective,
  score, rationale, nature, set_by}``; in CSV ``current.<name>`` columns).
"""
from __future__ import annotations

import difflib

import csv
import io
import json
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from .types import Assessment, Nature, OutputValues, SetBy, WorkItem

__all__ = [
    "RecordError", "RECORD_COLUMNS", "RECORD_KEYS", "assessment_to_record", "item_from_record",
    "parents_first", "records_from_text", "records_to_csv", "team_of",
]

_TEXT = ("id", "type", "project", "priority", "status", "assignment_group",
         "business_service", "ci", "parent", "assignee", "reporter")
_LISTS = ("labels", "components")
_TIMES = ("created", "updated")
_CURRENT = ("objective", "score", "rationale", "nature", "set_by")
_KEYS = ("platform", "key", "kind", "summary", "description", "effort", "fields", "raw",
         "current", *_TEXT, *_LISTS, *_TIMES)
#: The keys (columns) a ticket record may have, besides ``fields.<id>`` and ``current.<name>``.
RECORD_KEYS = _KEYS

#: Columns of ``assessment_to_record``, in order (the CSV header of ``score``).
RECORD_COLUMNS = ("key", "platform", "kind", "objective", "objective_name", "score", "nature",
                  "rationale", "overridden", "ruleset_version", "matched_rules", "errors",
                  "project", "type", "team", "summary", "parent", "effort", "url", "assessed_at")


class RecordError(ValueError):
    """A record cannot become a WorkItem; names the record and the key."""

    def __init__(self, index: int | None, key: str | None, message: str) -> None:
        self.index = index
        self.key = key
        where = f"record[{index}]" if index is not None else "record"
        where += f" key '{key}'" if key else ""
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------- records -> items
def item_from_record(record: Mapping[str, Any], index: int | None = None) -> WorkItem:
    """Build a WorkItem from one record; ``index`` (its position in the file)
    is named in any RecordError."""
    if not isinstance(record, Mapping):
        raise RecordError(index, None, f"expected an object with ticket keys, got "
                          f"{type(record).__name__}")
    raw: dict[str, Any] = {}
    current: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for name, value in record.items():
        if not isinstance(name, str):
            raise RecordError(index, str(name), "keys must be strings")
        if name.startswith("fields.") and len(name) > 7:
            if not _blank(value):
                raw[name[7:]] = value
        elif name.startswith("current.") and name[8:] in _CURRENT:
            current[name[8:]] = value
        elif name in ("fields", "raw"):
            if _blank(value):
                continue
            if not isinstance(value, Mapping):
                raise RecordError(index, name, "must be an object of platform field id -> value")
            raw.update(value)
        elif name == "current":
            if _blank(value):
                continue
            if not isinstance(value, Mapping):
                raise RecordError(index, name, f"must be an object with keys {', '.join(_CURRENT)}")
            for sub, sub_value in value.items():
                if sub not in _CURRENT:
                    raise RecordError(index, f"current.{sub}", f"unknown key; allowed: "
                                      f"{', '.join(_CURRENT)}")
                current[sub] = sub_value
        elif name in _KEYS:
            values[name] = value
        else:
            near = difflib.get_close_matches(str(name).lower(), sorted(_KEYS), n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise RecordError(index, name, (
                f"unknown key{hint}. Allowed: {', '.join(sorted(_KEYS))}, fields.<id>, current.<name>"))
    return _item(values, raw, current, index)


def _item(values: dict[str, Any], raw: dict[str, Any], current: dict[str, Any],
          index: int | None) -> WorkItem:
    key = _text(values.get("key"), index, "key")
    if not key:
        raise RecordError(index, "key", "is required (the Jira issue key or ServiceNow number)")
    platform = (_text(values.get("platform"), index, "platform") or "file").lower()
    if platform not in ("jira", "servicenow", "file"):
        raise RecordError(index, "platform", f"{platform!r} is not one of jira, servicenow, file")
    kind = (_text(values.get("kind"), index, "kind") or "ticket").lower()
    if kind not in ("ticket", "project"):
        raise RecordError(index, "kind", f"{kind!r} is not one of ticket, project")
    fields: dict[str, Any] = {name: _text(values.get(name), index, name) for name in _TEXT}
    if fields["type"]:
        fields["type"] = fields["type"].lower()
    return WorkItem(
        platform=platform,  # type: ignore[arg-type]
        key=key,
        kind=kind,  # type: ignore[arg-type]
        summary=_text(values.get("summary"), index, "summary") or "",
        description=_text(values.get("description"), index, "description") or "",
        labels=_strings(values.get("labels"), index, "labels"),
        components=_strings(values.get("components"), index, "components"),
        effort=_number(values.get("effort"), index, "effort"),
        created=_time(values.get("created"), index, "created"),
        updated=_time(values.get("updated"), index, "updated"),
        raw=raw,
        current=_current(current, index),
        **fields,
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any, index: int | None, key: str) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(index, key, f"must be text, got {type(value).__name__} {value!r}")
    return str(value).strip() if not isinstance(value, str) else value.strip()


def _strings(value: Any, index: int | None, key: str) -> tuple[str, ...]:
    if _blank(value):
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise RecordError(index, key, f"must be a list of strings or a comma-separated string, "
                      f"got {value!r}")


def _number(value: Any, index: int | None, key: str) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise RecordError(index, key, f"must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RecordError(index, key, f"must be a number, got {value!r}") from None


def _time(value: Any, index: int | None, key: str) -> datetime | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise RecordError(index, key, f"must be an ISO 8601 date-time such as "
                      f"2026-03-01T09:30:00+00:00, got {value!r}")


def _current(values: dict[str, Any], index: int | None) -> OutputValues:
    if not any(not _blank(v) for v in values.values()):
        return OutputValues()
    objective = _text(values.get("objective"), index, "current.objective")
    nature_text = _text(values.get("nature"), index, "current.nature")
    set_by_text = _text(values.get("set_by"), index, "current.set_by")
    try:
        nature = Nature(nature_text.lower()) if nature_text else None
    except ValueError:
        raise RecordError(index, "current.nature", f"{nature_text!r} is not one of "
                          f"{', '.join(n.value for n in Nature)}") from None
    try:
        # a value present without a stated setter is taken as ours, never as an override
        default = SetBy.INTEGRATION if objective else SetBy.NOBODY
        set_by = SetBy(set_by_text.lower()) if set_by_text else default
    except ValueError:
        raise RecordError(index, "current.set_by", f"{set_by_text!r} is not one of "
                          f"{', '.join(s.value for s in SetBy)}") from None
    return OutputValues(
        objective=objective,
        score=_number(values.get("score"), index, "current.score"),
        rationale=_text(values.get("rationale"), index, "current.rationale"),
        nature=nature,
        objective_set_by=set_by,
    )


# ---------------------------------------------------------------- text -> records
def records_from_text(text: str, fmt: str) -> list[dict[str, Any]]:
    """Parse a ticket file's text. ``fmt``: ``json`` (a list of objects, one
    object, or JSON lines), ``jsonl``, or ``csv`` (a header row). Raises
    RecordError naming the record or line."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        for i, row in enumerate(reader):
            if None in row:
                raise RecordError(i, None, f"CSV line {reader.line_num} has more cells than "
                                  "the header")
            rows.append(dict(row))
        return rows
    if fmt in ("json", "jsonl", "ndjson"):
        stripped = text.lstrip()
        if fmt == "json" and stripped[:1] in ("[", "{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                if stripped[:1] == "{" and "Extra data" in exc.msg:
                    return _json_lines(text)
                raise RecordError(None, None, f"invalid JSON at line {exc.lineno} column "
                                  f"{exc.colno}: {exc.msg}") from None
            return [data] if isinstance(data, dict) else _list(data)
        return _json_lines(text)
    raise RecordError(None, None, f"unknown ticket file format {fmt!r}; use .json, .jsonl or .csv")


def _list(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise RecordError(None, None, "a JSON ticket file holds a list of objects")
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise RecordError(i, None, f"expected an object, got {type(item).__name__}")
    return data


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(len(out), None, f"invalid JSON on line {number}: {exc.msg}") from None
        if not isinstance(item, dict):
            raise RecordError(len(out), None, f"line {number} is not a JSON object")
        out.append(item)
    return out


# ---------------------------------------------------------------- ordering
def parents_first(items: Sequence[WorkItem]) -> list[WorkItem]:
    """Order items so each comes after the items it may inherit from that are
    in the same batch: its parent, its epic (raw ``epic`` / ``epic_link``) and
    its project when the project is an item of kind ``project``. Order is
    otherwise kept; cycles are broken."""
    by_key = {item.key: item for item in items}
    projects = {item.key for item in items if item.kind == "project"}
    done: set[str] = set()
    visiting: set[str] = set()
    out: list[WorkItem] = []

    def visit(item: WorkItem) -> None:
        if item.key in done or item.key in visiting:
            return
        visiting.add(item.key)
        raw = item.raw or {}
        for ref in (item.parent, raw.get("epic"), raw.get("epic_link"),
                    item.project if item.project in projects else None):
            if isinstance(ref, str) and ref != item.key and ref in by_key:
                visit(by_key[ref])
        visiting.discard(item.key)
        done.add(item.key)
        out.append(item)

    for item in items:
        visit(item)
    seen_ids = {id(i) for i in out}
    out.extend(i for i in items if id(i) not in seen_ids)  # duplicate keys keep their place
    return out


# ---------------------------------------------------------------- assessments -> records
def team_of(item: WorkItem) -> str | None:
    """The team an item belongs to: its assignment group (ServiceNow, or a Jira
    team field mapped to it), else its first component (Jira)."""
    return item.assignment_group or (item.components[0] if item.components else None)


def assessment_to_record(assessment: Assessment,
                         objective_names: Mapping[str, str] | None = None,
                         item: WorkItem | None = None) -> dict[str, Any]:
    """One flat record per assessment (the columns of RECORD_COLUMNS).

    ``matched_rules`` lists the rule ids that matched, comma-separated;
    ``errors`` lists ``rule_id: message`` for rules that failed, ``;``-separated.
    ``objective_name`` is filled when ``objective_names`` (id -> name) is given.
    ``project``, ``type``, ``team``, ``summary``, ``parent`` and ``effort`` come from
    ``item`` when given (what a report groups and weighs by); ``url`` and
    ``assessed_at`` are left empty for the caller to fill.
    """
    names = objective_names or {}
    rules: list[str] = []
    for match in assessment.matches:
        if match.rule_id not in rules:
            rules.append(match.rule_id)
    return {
        "key": assessment.item_key,
        "platform": assessment.platform,
        "kind": assessment.kind,
        "objective": assessment.objective,
        "objective_name": names.get(assessment.objective),
        "score": assessment.score,
        "nature": assessment.nature.value,
        "rationale": assessment.rationale,
        "overridden": assessment.overridden,
        "ruleset_version": assessment.ruleset_version,
        "matched_rules": ", ".join(rules),
        "errors": "; ".join(f"{e.rule_id}: {e.message}" for e in assessment.errors),
        "project": item.project if item else None,
        "type": item.type if item else None,
        "team": team_of(item) if item else None,
        "summary": (item.summary or None) if item else None,
        "parent": item.parent if item else None,
        "effort": item.effort if item else None,
        "url": None,
        "assessed_at": None,
    }


def records_to_csv(records: Iterable[Mapping[str, Any]],
                   columns: Sequence[str] = RECORD_COLUMNS) -> str:
    """CSV text with a header row; None becomes an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
    return out.getvalue()
