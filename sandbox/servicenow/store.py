"""The sandbox's database: records of every table, the dictionary built from
``sys_dictionary``/``sys_choice`` rows, audit rows, and the write rules.

Records are stored sparse (only non-empty values; a missing column reads as
``""``) so that seeding tens of thousands of incidents is cheap. Every value is a
string, as the Table API shows it. One re-entrant lock guards everything; the
HTTP threads and the test's control calls share it.
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Mapping

from . import schema
from .query import Query, parse, select
from .schema import Column

_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
#: Columns the Table API never lets a caller write (silently ignored, as on the platform).
_SYSTEM_WRITES = frozenset({"sys_id", "sys_created_on", "sys_created_by", "sys_updated_on",
                            "sys_updated_by", "sys_mod_count", "sys_class_name"})
_TRUE = {"true", "1", "yes"}


def format_time(epoch: float) -> str:
    """ServiceNow's GMT date-time format."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def new_sys_id() -> str:
    return uuid.uuid4().hex


class WriteRejected(Exception):
    """A write the platform refuses: answered 400 (or ``status``) with the error envelope."""

    def __init__(self, message: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{message}: {detail}")
        self.message, self.detail, self.status = message, detail, status


@dataclass(slots=True)
class WriteResult:
    table: str
    record: dict[str, str]
    operation: str  # insert | update
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (old, new)


class Store:
    """All tables of one sandbox instance."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, str]] = {}
        self.by_class: dict[str, dict[str, None]] = {t: {} for t in schema.TABLES}
        self.version = 0
        self._counters: dict[str, int] = {}
        self._columns: dict[str, dict[str, Column]] = {}
        self._choices: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}
        self._query_cache: dict[tuple, list[str]] = {}
        self._seq: dict[str, int] = {}  # sys_id -> insertion number (default order)

    # ------------------------------------------------------------ schema
    def columns(self, table: str) -> dict[str, Column]:
        """Columns of ``table`` including those inherited (nearest definition wins)."""
        with self.lock:
            cols = self._columns.get(table)
            if cols is None:
                cols = {}
                for t in reversed(schema.ancestors(table)):
                    for sid in self.by_class["sys_dictionary"]:
                        row = self.records[sid]
                        if row.get("name") == t and row.get("element") and \
                                row.get("active", "true") != "false":
                            cols[row["element"]] = _column_from_row(row)
                self._columns[table] = cols
            return cols

    def choices(self, table: str, element: str) -> dict[str, tuple[str, bool]]:
        """value -> (label, inactive) from the nearest table defining choices for ``element``."""
        with self.lock:
            key = (table, element)
            if key not in self._choices:
                found: dict[str, tuple[str, bool]] = {}
                for t in schema.ancestors(table):
                    rows = [self.records[s] for s in self.by_class["sys_choice"]
                            if self.records[s].get("name") == t and self.records[s].get("element") == element]
                    if rows:
                        rows.sort(key=lambda r: _int(r.get("sequence", "")))
                        found = {r.get("value", ""): (r.get("label", ""), r.get("inactive", "") in _TRUE)
                                 for r in rows}
                        break
                self._choices[key] = found
            return self._choices[key]

    def _schema_changed(self) -> None:
        self._columns.clear()
        self._choices.clear()

    # ------------------------------------------------------------ reads
    def get(self, table: str, sys_id: str) -> dict[str, str] | None:
        """The record if it belongs to ``table`` or a table extending it."""
        with self.lock:
            rec = self.records.get(sys_id)
            if rec is None or rec["sys_class_name"] not in schema.descendants(table):
                return None
            return rec

    def field_value(self, table: str, record: Mapping[str, str], path: str) -> str | None:
        """Value of ``path`` (``a`` or ``ref.b``) on ``record``; None if no such column."""
        head, _, rest = path.partition(".")
        cols = self.columns(record.get("sys_class_name") or table)
        if head not in cols:
            return None
        value = record.get(head, "")
        if not rest:
            return value
        col = cols[head]
        if not col.is_reference:
            return None
        target = self.get(col.reference, value) if value else None
        if target is None:
            return "" if rest in self.columns(col.reference) else None
        return self.field_value(col.reference, target, rest)

    def known_path(self, table: str, path: str) -> bool:
        head, _, rest = path.partition(".")
        cols = self.columns(table)
        # a query on a parent table may name columns of a child class? no: the platform drops them
        if head not in cols:
            return False
        if not rest:
            return True
        col = cols[head]
        return col.is_reference and self.known_path(col.reference, rest)

    def is_numeric(self, table: str, path: str) -> bool:
        head, _, rest = path.partition(".")
        col = self.columns(table).get(head)
        if col is None:
            return False
        if rest and col.is_reference:
            return self.is_numeric(col.reference, rest)
        return col.internal_type in schema.NUMBER_TYPES

    def parse_query(self, table: str, encoded: str) -> Query:
        return parse(encoded, lambda f: self.known_path(table, f))

    def query(self, table: str, encoded: str = "") -> list[dict[str, str]]:
        """Records of ``table`` (children included) matching ``encoded``, ordered
        by the query's ORDERBY terms, otherwise by insertion."""
        with self.lock:
            key = (table, encoded, self.version)
            ids = self._query_cache.get(key)
            if ids is None:
                q = self.parse_query(table, encoded)
                classes = schema.descendants(table)
                recs = [self.records[s] for c in classes for s in self.by_class[c]]
                if len(classes) > 1:
                    recs.sort(key=lambda r: self._seq.get(r["sys_id"], 0))
                if q.groups or q.order:
                    get = lambda r, f: self.field_value(table, r, f)  # noqa: E731
                    recs = select(recs, q, get, lambda f: self.is_numeric(table, f))
                if len(self._query_cache) > 64:
                    self._query_cache.clear()
                ids = [r["sys_id"] for r in recs]
                self._query_cache[key] = ids
            return [self.records[s] for s in ids if s in self.records]

    def find(self, table: str, **equals: str) -> list[dict[str, str]]:
        """Records of ``table`` whose columns equal the given values (exact match)."""
        with self.lock:
            return [self.records[s] for c in schema.descendants(table) for s in self.by_class[c]
                    if all(self.records[s].get(k, "") == v for k, v in equals.items())]

    def display_value(self, table: str, record: Mapping[str, str], column: str) -> str:
        """What the form shows for ``column``: choice label, referenced record's name, or the value."""
        cols = self.columns(record.get("sys_class_name") or table)
        value = record.get(column, "")
        col = cols.get(column)
        if col is None or value == "":
            return value
        if col.internal_type == "sys_class_name":
            return schema.TABLE_LABEL.get(value, value)
        if col.is_reference:
            target = self.get(col.reference, value)
            if target is None:
                return ""
            return target.get(schema.display_column(target["sys_class_name"]), "")
        if col.choice != "0":
            label = self.choices(record.get("sys_class_name") or table, column).get(value)
            return label[0] if label else value
        return value

    # ------------------------------------------------------------ writes
    def insert(self, table: str, values: Mapping[str, object], user: str,
               *, raw: bool = False) -> WriteResult:
        """Insert a record of class ``table``. ``raw`` skips validation (seeding)."""
        with self.lock:
            now = format_time(self.clock())
            clean = values if raw else self._clean(table, values, insert=True)
            sys_id = str(values.get("sys_id") or "")
            if not _SYS_ID.match(sys_id) or sys_id in self.records:
                sys_id = new_sys_id()
            rec: dict[str, str] = {"sys_id": sys_id, "sys_class_name": table, "sys_created_on": now,
                                   "sys_created_by": user, "sys_updated_on": now,
                                   "sys_updated_by": user, "sys_mod_count": "0"}
            if schema.is_task_family(table):
                rec["number"] = self._next_number(table)
                rec["active"] = "true"
                rec["opened_at"] = now
                state = next((schema.DEFAULT_STATE[t] for t in schema.ancestors(table)
                              if t in schema.DEFAULT_STATE), "1")
                rec["state"] = state
                for c in ("priority", "impact", "urgency"):
                    rec[c] = "4" if c == "priority" else "3"
                opener = self.find("sys_user", user_name=user)
                if opener:
                    rec["opened_by"] = opener[0]["sys_id"]
            for k, v in clean.items():
                if k in _SYSTEM_WRITES and not raw:
                    continue
                rec[k] = str(v)
            if raw:
                rec["sys_id"], rec["sys_class_name"] = sys_id, table
            rec = {k: v for k, v in rec.items() if v != ""}
            rec.setdefault("sys_id", sys_id)
            rec.setdefault("sys_class_name", table)
            self.records[sys_id] = rec
            self.by_class[table][sys_id] = None
            self._seq[sys_id] = len(self._seq)
            self._touch(table)
            changed = {k: ("", v) for k, v in rec.items() if not k.startswith("sys_")}
            if not raw and schema.is_task_family(table):
                self._audit(table, rec, changed, user)
            return WriteResult(table, rec, "insert", changed)

    def update(self, table: str, sys_id: str, values: Mapping[str, object], user: str) -> WriteResult:
        """Update only the columns sent; unknown columns are ignored."""
        with self.lock:
            rec = self.get(table, sys_id)
            if rec is None:
                raise WriteRejected("No Record found",
                                    "Record doesn't exist or ACL restricts the record retrieval", 404)
            cls = rec["sys_class_name"]
            clean = self._clean(cls, values, insert=False)
            changed: dict[str, tuple[str, str]] = {}
            for k, v in clean.items():
                if k in _SYSTEM_WRITES:
                    continue
                old = rec.get(k, "")
                if old != v:
                    changed[k] = (old, v)
                    if v == "":
                        rec.pop(k, None)
                    else:
                        rec[k] = v
            if not changed:
                # the platform skips the database write (and after rules) when nothing changed
                return WriteResult(cls, rec, "update", changed)
            rec["sys_mod_count"] = str(int(rec.get("sys_mod_count", "0")) + 1)
            rec["sys_updated_on"] = format_time(self.clock())
            rec["sys_updated_by"] = user
            self._touch(cls)
            if schema.is_task_family(cls):
                self._audit(cls, rec, changed, user)
            return WriteResult(cls, rec, "update", changed)

    def delete(self, table: str, sys_id: str) -> dict[str, str]:
        with self.lock:
            rec = self.get(table, sys_id)
            if rec is None:
                raise WriteRejected("No Record found",
                                    "Record doesn't exist or ACL restricts the record retrieval", 404)
            del self.records[sys_id]
            del self.by_class[rec["sys_class_name"]][sys_id]
            self._touch(rec["sys_class_name"])
            return rec

    def _touch(self, table: str) -> None:
        self.version += 1
        if table in ("sys_dictionary", "sys_choice"):
            self._schema_changed()

    def _next_number(self, table: str) -> str:
        prefix, start = schema.NUMBER_PREFIX.get(table, ("TASK", 10001))
        n = self._counters.get(table, start)
        self._counters[table] = n + 1
        return f"{prefix}{n:07d}"

    def _clean(self, table: str, values: Mapping[str, object], *, insert: bool) -> dict[str, str]:
        """Keep known columns, stringify, resolve references by name, check choices."""
        cols = self.columns(table)
        out: dict[str, str] = {}
        for k, raw in values.items():
            col = cols.get(k)
            if col is None:
                continue  # unknown column: silently ignored, as the platform does
            v = _as_text(raw)
            if col.is_reference and v and not self.get(col.reference, v):
                named = self.find(col.reference, **{schema.display_column(col.reference): v})
                if named:
                    v = named[0]["sys_id"]
            if col.validates_choice and v != "":
                known = self.choices(table, k)
                if v not in known:
                    allowed = ", ".join(sorted(known)) or "none defined"
                    raise WriteRejected(
                        "Invalid choice value",
                        f"'{v}' is not a choice of {table}.{k} (choices: {allowed}); "
                        f"add it to sys_choice first")
            if col.internal_type in schema.INTEGER_TYPES and v != "":
                try:
                    v = str(int(float(v)))
                except ValueError:
                    raise WriteRejected("Invalid value",
                                        f"{table}.{k} is an integer column; got {v!r}") from None
            if col.internal_type == "boolean" and v != "":
                v = "true" if v.lower() in _TRUE else "false"
            out[k] = v
        return out

    def _audit(self, table: str, rec: Mapping[str, str], changed: Mapping[str, tuple[str, str]],
               user: str) -> None:
        now = format_time(self.clock())
        for col, (old, new) in changed.items():
            sid = new_sys_id()
            row = {"sys_id": sid, "sys_class_name": "sys_audit", "sys_created_on": now,
                   "sys_created_by": user, "sys_updated_on": now, "sys_updated_by": user,
                   "sys_mod_count": "0", "tablename": table, "documentkey": rec["sys_id"],
                   "fieldname": col, "oldvalue": old, "newvalue": new, "user": user,
                   "record_checkpoint": rec.get("sys_mod_count", "0")}
            self.records[sid] = {k: v for k, v in row.items() if v != ""}
            self.by_class["sys_audit"][sid] = None

    def clear(self) -> None:
        with self.lock:
            self.records.clear()
            for t in self.by_class:
                self.by_class[t].clear()
            self._counters.clear()
            self._query_cache.clear()
            self._seq.clear()
            self._schema_changed()
            self.version += 1


def _column_from_row(row: Mapping[str, str]) -> Column:
    return Column(row.get("name", ""), row.get("element", ""), row.get("internal_type", "") or "string",
                  row.get("reference", ""), row.get("choice", "") or "0", row.get("column_label", ""),
                  _int(row.get("max_length", "")), row.get("read_only", "") in _TRUE)


def _int(s: str) -> int:
    try:
        return int(s)
    except (TypeError, ValueError):
        return 0


def _as_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):  # {"value": ...} as sent back by some clients
        return _as_text(v.get("value", ""))
    return str(v)

