"""Built-in rule type: conditions on any WorkItem attribute or raw field ``fields.<id>``.

YAML forms (one key per field; several keys in one mapping must all hold)::

    {project: SHOP}                 # equals (case-insensitive; 1, 1.0 and "1" are equal)
    {project: [SHOP, PAY]}          # any of
    {effort: {gt: 8, lte: 40}}      # numeric (or date) comparisons: gt, gte, lt, lte
    {assignee: null}                # is empty; also {assignee: {empty: true|false}}
    {fields.customfield_10070: Checkout}   # raw platform field; a select compares by value

List fields (labels, components, multi-selects) match when any element matches.
"""
from __future__ import annotations

import operator
from datetime import date, datetime, time, timezone
from typing import Any

from itsm_align.scoring.types import WorkItem

from ..markers import hookimpl
from ..ruletypes import (
    RAW_PREFIX,
    All,
    Condition,
    ConditionError,
    FieldEquals,
    Predicate,
    RuleType,
    read_field,
    scalars,
    show,
)

_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_SYMBOL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPS = ("eq", "in", *_COMPARE, "empty")


def _as_number(value: Any) -> float | None:
    """Numbers, numeric text, dates and ISO timestamps as one comparable float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=timezone.utc).timestamp()
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return _as_number(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


class FieldRuleType(RuleType):
    """Conditions keyed by a WorkItem attribute name or ``fields.<id>``."""

    name = "field"

    def handles(self, key: str) -> bool:
        return key in WorkItem.ATTRIBUTES or (key.startswith(RAW_PREFIX) and len(key) > len(RAW_PREFIX))

    def describe_keys(self) -> str:
        return "a WorkItem attribute (" + ", ".join(WorkItem.ATTRIBUTES) + ") or fields.<platform field id>"

    def compile(self, key: str, value: Any) -> Condition:
        if value is None:
            return self._empty(key, True)
        if isinstance(value, dict):
            return self._ops(key, value)
        if isinstance(value, list):
            return self._equals(key, value)
        return self._equals(key, [value])

    def _equals(self, key: str, values: list[Any]) -> Condition:
        if not values:
            raise ConditionError(f"{key}: an empty list matches nothing; list at least one value")
        for v in values:
            if isinstance(v, (dict, list)):
                raise ConditionError(f"{key}: values must be plain text or numbers, got {v!r}; "
                                     f"for comparisons write {{{key}: {{gt: 3}}}}")
        return FieldEquals(key, values)

    def _ops(self, key: str, spec: dict) -> Condition:
        unknown = [k for k in spec if k not in OPS]
        if unknown:
            raise ConditionError(f"{key}: unknown operator {unknown[0]!r}; known: {', '.join(OPS)}",
                                 (unknown[0],))
        if not spec:
            raise ConditionError(f"{key}: empty operator mapping; use one of {', '.join(OPS)}")
        parts: list[Condition] = []
        if "eq" in spec:
            parts.append(self._equals(key, [spec["eq"]]))
        if "in" in spec:
            vals = spec["in"] if isinstance(spec["in"], list) else [spec["in"]]
            parts.append(self._equals(key, vals))
        for op in _COMPARE:
            if op in spec:
                parts.append(self._compare(key, op, spec[op]))
        if "empty" in spec:
            if not isinstance(spec["empty"], bool):
                raise ConditionError(f"{key}: empty takes true or false, got {spec['empty']!r}", ("empty",))
            parts.append(self._empty(key, spec["empty"]))
        return parts[0] if len(parts) == 1 else All(parts)

    @staticmethod
    def _compare(key: str, op: str, bound: Any) -> Condition:
        limit = _as_number(bound)
        if limit is None:
            raise ConditionError(f"{key}: {op} needs a number or a date (YYYY-MM-DD), got {bound!r}", (op,))
        cmp, sym = _COMPARE[op], _SYMBOL[op]

        def check(item: WorkItem) -> str | None:
            for v in scalars(read_field(item, key)):
                n = _as_number(v)
                if n is not None and cmp(n, limit):
                    return f"{key} {v} {sym} {bound}"
            return None

        return Predicate([key], check, f"{key} {sym} {bound}")

    @staticmethod
    def _empty(key: str, want_empty: bool) -> Condition:
        def check(item: WorkItem) -> str | None:
            values = scalars(read_field(item, key))
            if want_empty and not values:
                return f"{key} is empty"
            if not want_empty and values:
                return f"{key} is {show(values)}"
            return None

        return Predicate([key], check, f"{key} is {'empty' if want_empty else 'set'}")


@hookimpl
def itsm_align_register_rule_types() -> list[RuleType]:
    return [FieldRuleType()]
