"""Tables, columns and choices of the sandbox instance (its data dictionary).

ServiceNow keeps its schema in ``sys_dictionary`` (one row per column) and the
values of choice lists in ``sys_choice``. The sandbox does the same: the rows
below are inserted as ordinary records at start, and a column exists only while
a ``sys_dictionary`` row defines it (see ``Schema.rebuild``). A column defined on
a table applies to every table that extends it, as on a real instance.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: child -> parent ("extends"). Tables not listed here have no parent.
TABLE_PARENT: dict[str, str] = {
    "incident": "task",
    "problem": "task",
    "change_request": "task",
    "sc_req_item": "task",
    "planned_task": "task",
    "pm_project": "planned_task",
    "rm_story": "planned_task",
    "cmdb_ci_service": "cmdb_ci",
}

#: Tables the Table API serves.
TABLES: tuple[str, ...] = (
    "task", "incident", "problem", "change_request", "sc_req_item", "planned_task", "pm_project",
    "rm_story", "sys_dictionary", "sys_choice", "sys_properties", "sys_user", "sys_user_group",
    "sys_audit", "cmdb_ci", "cmdb_ci_service",
)

#: Number prefixes of the task family (``number`` column), as on a fresh instance.
NUMBER_PREFIX: dict[str, tuple[str, int]] = {
    "incident": ("INC", 10001), "problem": ("PRB", 40001), "change_request": ("CHG", 30001),
    "sc_req_item": ("RITM", 10001), "rm_story": ("STRY", 10001), "pm_project": ("PRJ", 10001),
    "planned_task": ("PTSK", 10001), "task": ("TASK", 10001),
}

#: Labels of the tables (display value of ``sys_class_name``).
TABLE_LABEL: dict[str, str] = {
    "task": "Task", "incident": "Incident", "problem": "Problem", "change_request": "Change Request",
    "sc_req_item": "Requested Item", "planned_task": "Planned Task", "pm_project": "Project",
    "rm_story": "Story", "cmdb_ci": "Configuration Item", "cmdb_ci_service": "Business Service",
}

#: Column shown as the display value of a reference to a record of that table.
DISPLAY_COLUMN: dict[str, str] = {
    "sys_user": "name", "sys_user_group": "name", "cmdb_ci": "name", "cmdb_ci_service": "name",
    "task": "number", "sys_properties": "name", "sys_dictionary": "element", "sys_choice": "label",
    "sys_audit": "documentkey",
}

INTEGER_TYPES = frozenset({"integer", "longint"})
NUMBER_TYPES = frozenset({"integer", "longint", "decimal", "float", "numeric"})


@lru_cache(maxsize=None)
def ancestors(table: str) -> tuple[str, ...]:
    """``table`` and every table it extends, nearest first."""
    chain = [table]
    while chain[-1] in TABLE_PARENT:
        chain.append(TABLE_PARENT[chain[-1]])
    return tuple(chain)


@lru_cache(maxsize=None)
def descendants(table: str) -> tuple[str, ...]:
    """``table`` and every table extending it (the classes a query on it returns)."""
    out = [table]
    for child, parent in TABLE_PARENT.items():
        if parent == table:
            out.extend(descendants(child))
    return tuple(out)


@lru_cache(maxsize=None)
def is_task_family(table: str) -> bool:
    return "task" in ancestors(table)


@lru_cache(maxsize=None)
def display_column(table: str) -> str:
    for t in ancestors(table):
        if t in DISPLAY_COLUMN:
            return DISPLAY_COLUMN[t]
    return "sys_id"


@dataclass(frozen=True, slots=True)
class Column:
    """One column, as its ``sys_dictionary`` row defines it."""

    table: str  # where it is defined (``name``)
    element: str
    internal_type: str = "string"
    reference: str = ""  # referenced table for internal_type reference
    choice: str = "0"  # 0 none, 1 dropdown with -- None --, 2 suggestion, 3 dropdown without None
    label: str = ""
    max_length: int = 0
    read_only: bool = False

    @property
    def is_reference(self) -> bool:
        return self.internal_type == "reference" and bool(self.reference)

    @property
    def validates_choice(self) -> bool:
        """Dropdown choice columns only take values present in ``sys_choice``.

        Real ServiceNow stores any value sent through the Table API; the sandbox
        follows the product contract ("a choice value must exist") and answers 400.
        Suggestion lists (choice 2) accept anything, as on the platform.
        """
        return self.choice in ("1", "3")


def _c(table: str, element: str, internal_type: str = "string", reference: str = "",
       choice: str = "0", label: str = "", max_length: int = 0, read_only: bool = False) -> Column:
    return Column(table, element, internal_type, reference, choice,
                  label or element.replace("_", " ").capitalize(), max_length, read_only)


_SYS = ("sys_id", "sys_created_on", "sys_created_by", "sys_updated_on", "sys_updated_by",
        "sys_mod_count")


def _sys_columns(table: str) -> list[Column]:
    types = {"sys_id": "GUID", "sys_created_on": "glide_date_time", "sys_updated_on": "glide_date_time",
             "sys_mod_count": "integer"}
    return [_c(table, e, types.get(e, "string"), read_only=True) for e in _SYS]


BASE_COLUMNS: tuple[Column, ...] = tuple(
    _sys_columns("task") + [
        _c("task", "number", read_only=False, max_length=40),
        _c("task", "sys_class_name", "sys_class_name", read_only=True, label="Task type"),
        _c("task", "short_description", max_length=160),
        _c("task", "description", max_length=4000),
        _c("task", "state", "integer", choice="3"),
        _c("task", "priority", "integer", choice="1"),
        _c("task", "impact", "integer", choice="1"),
        _c("task", "urgency", "integer", choice="1"),
        _c("task", "active", "boolean"),
        _c("task", "approval", "string"),
        _c("task", "assignment_group", "reference", "sys_user_group"),
        _c("task", "assigned_to", "reference", "sys_user"),
        _c("task", "opened_by", "reference", "sys_user"),
        _c("task", "opened_at", "glide_date_time"),
        _c("task", "closed_at", "glide_date_time"),
        _c("task", "due_date", "glide_date_time"),
        _c("task", "business_service", "reference", "cmdb_ci_service", label="Service"),
        _c("task", "cmdb_ci", "reference", "cmdb_ci", label="Configuration item"),
        _c("task", "parent", "reference", "task"),
        _c("task", "time_worked", "timer"),
        _c("task", "work_notes", "journal_input"),
        _c("task", "comments", "journal_input"),
        _c("task", "contact_type", "string"),
        _c("task", "correlation_id", "string"),
        _c("incident", "caller_id", "reference", "sys_user", label="Caller"),
        _c("incident", "category", "string", choice="1"),
        _c("incident", "subcategory", "string", choice="2"),
        _c("incident", "problem_id", "reference", "problem", label="Problem"),
        _c("incident", "severity", "integer"),
        _c("incident", "close_code", "string"),
        _c("problem", "category", "string", choice="2"),
        _c("problem", "known_error", "boolean"),
        _c("change_request", "type", "string", choice="2"),
        _c("change_request", "category", "string", choice="2"),
        _c("change_request", "risk", "integer"),
        _c("change_request", "requested_by", "reference", "sys_user"),
        _c("change_request", "start_date", "glide_date_time"),
        _c("change_request", "end_date", "glide_date_time"),
        _c("sc_req_item", "quantity", "integer"),
        _c("sc_req_item", "requested_for", "reference", "sys_user"),
        _c("sc_req_item", "stage", "string"),
        _c("planned_task", "effort", "timer"),
        _c("planned_task", "percent_complete", "decimal"),
        _c("planned_task", "start_date", "glide_date_time"),
        _c("planned_task", "end_date", "glide_date_time"),
        _c("rm_story", "story_points", "integer"),
        _c("pm_project", "project_manager", "reference", "sys_user"),
    ]
    + _sys_columns("sys_user") + [
        _c("sys_user", "user_name"), _c("sys_user", "name"), _c("sys_user", "email"),
        _c("sys_user", "active", "boolean"),
    ]
    + _sys_columns("sys_user_group") + [
        _c("sys_user_group", "name"), _c("sys_user_group", "description"),
        _c("sys_user_group", "active", "boolean"),
    ]
    + _sys_columns("cmdb_ci") + [
        _c("cmdb_ci", "name"), _c("cmdb_ci", "sys_class_name", "sys_class_name", read_only=True),
        _c("cmdb_ci", "operational_status", "integer"),
    ]
    + [_c("cmdb_ci_service", "busines_criticality", "string")]
    + _sys_columns("sys_properties") + [
        _c("sys_properties", "name"), _c("sys_properties", "value", max_length=4000),
        _c("sys_properties", "type"), _c("sys_properties", "description"),
    ]
    + _sys_columns("sys_dictionary") + [
        _c("sys_dictionary", e) for e in ("name", "element", "internal_type", "reference",
                                          "column_label", "choice", "max_length", "default_value",
                                          "active", "read_only", "mandatory")
    ]
    + _sys_columns("sys_choice") + [
        _c("sys_choice", e) for e in ("name", "element", "value", "label", "sequence", "language",
                                      "inactive", "dependent_value")
    ]
    + _sys_columns("sys_audit") + [
        _c("sys_audit", e) for e in ("tablename", "documentkey", "fieldname", "oldvalue", "newvalue",
                                     "user", "reason", "record_checkpoint")
    ]
)

# (table, element, value, label, sequence)
BASE_CHOICES: tuple[tuple[str, str, str, str, int], ...] = (
    *[("task", "state", v, lbl, i) for i, (v, lbl) in enumerate(
        [("-5", "Pending"), ("1", "Open"), ("2", "Work in Progress"), ("3", "Closed Complete"),
         ("4", "Closed Incomplete"), ("7", "Closed Skipped")])],
    *[("incident", "state", v, lbl, i) for i, (v, lbl) in enumerate(
        [("1", "New"), ("2", "In Progress"), ("3", "On Hold"), ("6", "Resolved"), ("7", "Closed"),
         ("8", "Canceled")])],
    *[("problem", "state", v, lbl, i) for i, (v, lbl) in enumerate(
        [("101", "New"), ("102", "Assess"), ("103", "Root Cause Analysis"), ("104", "Fix in Progress"),
         ("106", "Resolved"), ("107", "Closed")])],
    *[("change_request", "state", v, lbl, i) for i, (v, lbl) in enumerate(
        [("-5", "New"), ("-4", "Assess"), ("-3", "Authorize"), ("-2", "Scheduled"), ("-1", "Implement"),
         ("0", "Review"), ("3", "Closed"), ("4", "Canceled")])],
    *[("task", "priority", v, lbl, i) for i, (v, lbl) in enumerate(
        [("1", "1 - Critical"), ("2", "2 - High"), ("3", "3 - Moderate"), ("4", "4 - Low"),
         ("5", "5 - Planning")])],
    *[("task", "impact", v, lbl, i) for i, (v, lbl) in enumerate(
        [("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")])],
    *[("task", "urgency", v, lbl, i) for i, (v, lbl) in enumerate(
        [("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")])],
    *[("incident", "category", v, lbl, i) for i, (v, lbl) in enumerate(
        [("inquiry", "Inquiry / Help"), ("software", "Software"), ("hardware", "Hardware"),
         ("network", "Network"), ("database", "Database")])],
)

#: Default state of a new record, per class (nearest ancestor wins).
DEFAULT_STATE: dict[str, str] = {"incident": "1", "problem": "101", "change_request": "-5", "task": "1"}
