"""The business rule's event body -> Event (see business_rule.js for the sender).

Cheap and strict: it runs on the ingest hot path. Async business rules have no
``previous``, so which columns changed is unknown (``changed_fields=None``);
``sys_mod_count`` orders events of one record (newer wins).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from itsm_align.integration.base import Event

from .mapping import PROJECT_CLASSES

_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
_TABLE = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
OPERATIONS = {"insert": "upsert", "update": "upsert", "delete": "delete"}


def parse_event(payload: Mapping[str, Any], headers: Mapping[str, str] | None = None, *,
                own_user: str | None = None) -> Event:
    """Normalise one event body. Raises ValueError naming what is wrong when the
    body is not our business rule's shape; an unknown ``operation`` is ignored."""
    if not isinstance(payload, Mapping):
        raise ValueError("ServiceNow event body must be a JSON object")
    table = payload.get("table")
    if not isinstance(table, str) or not _TABLE.match(table):
        raise ValueError("ServiceNow event has no valid 'table' (expected a table name such as 'incident')")
    sys_id = payload.get("sys_id")
    if not isinstance(sys_id, str) or not _SYS_ID.match(sys_id):
        raise ValueError("ServiceNow event has no valid 'sys_id' (expected 32 lower-case hex characters)")
    operation = payload.get("operation")
    if not isinstance(operation, str):
        raise ValueError("ServiceNow event has no 'operation' (expected 'insert' or 'update')")
    version = _version(payload.get("sys_mod_count"))
    fields = payload.get("fields", {})
    if not isinstance(fields, Mapping):
        raise ValueError("ServiceNow event 'fields' must be an object of column -> string value")
    display = payload.get("display", {})
    if not isinstance(display, Mapping):
        raise ValueError("ServiceNow event 'display' must be an object of column -> display value")
    actor = payload.get("sys_updated_by")
    actor = actor if isinstance(actor, str) and actor else None
    cls = payload.get("sys_class_name") if isinstance(payload.get("sys_class_name"), str) else table
    action = OPERATIONS.get(operation, "ignore")
    return Event(
        platform="servicenow",
        action=action,  # type: ignore[arg-type]
        subject="project" if cls in PROJECT_CLASSES or table in PROJECT_CLASSES else "ticket",
        key=f"{table}:{sys_id}",
        event_type=f"servicenow:{operation}",
        actor=actor,
        actor_is_integration=bool(own_user) and actor == own_user,
        changed_fields=None,
        version=version,
        objective_set_by_person=False,
        payload=payload,
    )


def _version(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError("ServiceNow event 'sys_mod_count' must be an integer")
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"ServiceNow event 'sys_mod_count' must be an integer, got {raw!r}") from None
    if number < 0:
        raise ValueError("ServiceNow event 'sys_mod_count' must not be negative")
    return number


def split_key(key: str) -> tuple[str, str]:
    """``incident:<sys_id>`` -> (table, sys_id). Raises ValueError for another shape."""
    table, sep, sys_id = key.partition(":")
    if not sep or not _TABLE.match(table) or not _SYS_ID.match(sys_id):
        raise ValueError(f"ServiceNow key must be '<table>:<sys_id>', got {key!r}")
    return table, sys_id
