"""Encoded queries (``sysparm_query``): parse once, then filter and order records.

Supported: ``=``, ``!=``, ``^`` (AND), ``^OR``, ``^NQ`` (new OR'd query), ``IN``,
``NOT IN``, ``LIKE``, ``NOT LIKE``, ``STARTSWITH``, ``ENDSWITH``, ``ISEMPTY``,
``ISNOTEMPTY``, ``ANYTHING``, ``>``/``>=``/``<``/``<=`` (numbers compare as numbers,
``YYYY-MM-DD HH:MM:SS`` dates compare as text), ``ORDERBY``/``ORDERBYDESC``, and
one-level dot-walking through references (``caller_id.name=Abel Tuter``).

As on a real instance (without ``glide.invalid_query.returns_no_rows``), a term
naming a column the table does not have, or one the sandbox cannot parse, is
silently dropped, so a misspelled field returns all rows. String equality is
case-insensitive, like the platform's default database collation. ``javascript:``
values are not evaluated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

_TERM = re.compile(
    r"^([a-z0-9_.]+?)(ISNOTEMPTY|ISEMPTY|ANYTHING|EMPTYSTRING|NOT IN|NOT LIKE|NOTIN|NOTLIKE|IN|"
    r"LIKE|STARTSWITH|ENDSWITH|!=|>=|<=|>|<|=)(.*)$", re.S)

Getter = Callable[[dict, str], "str | None"]  # (record, field path) -> value, None = no such column


@dataclass(frozen=True, slots=True)
class Term:
    field: str
    op: str
    value: str

    def matches(self, record: dict, get: Getter, numeric: bool) -> bool:
        actual = get(record, self.field)
        if actual is None:  # column vanished: treat as empty
            actual = ""
        op, want = self.op, self.value
        if op == "ISEMPTY" or op == "EMPTYSTRING":
            return actual == ""
        if op == "ISNOTEMPTY":
            return actual != ""
        if op == "ANYTHING":
            return True
        a = actual.lower()
        w = want.lower()
        if op == "=":
            return _compare(actual, want, numeric) == 0 if numeric else a == w
        if op == "!=":
            return (_compare(actual, want, numeric) != 0) if numeric else a != w
        if op in ("IN", "NOT IN", "NOTIN"):
            inside = a in {v.strip().lower() for v in want.split(",")}
            return inside if op == "IN" else not inside
        if op == "LIKE":
            return w in a
        if op in ("NOT LIKE", "NOTLIKE"):
            return w not in a
        if op == "STARTSWITH":
            return a.startswith(w)
        if op == "ENDSWITH":
            return a.endswith(w)
        if actual == "":
            return False  # empty never compares greater or smaller
        c = _compare(actual, want, numeric)
        return {">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[op]


def _compare(a: str, b: str, numeric: bool) -> int:
    if numeric:
        try:
            x, y = float(a), float(b)
            return (x > y) - (x < y)
        except ValueError:
            pass
    return (a > b) - (a < b)


@dataclass(frozen=True, slots=True)
class Query:
    """OR of AND-groups of OR-terms, plus the ordering."""

    groups: tuple[tuple[tuple[Term, ...], ...], ...]  # NQ-groups -> AND clauses -> OR terms
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    dropped: tuple[str, ...] = ()  # terms ignored (unknown column / unparsable)


def parse(encoded: str, known: Callable[[str], bool]) -> Query:
    """Parse ``encoded``; ``known(field_path)`` says whether a column exists."""
    groups: list[tuple[tuple[Term, ...], ...]] = []
    order: list[tuple[str, bool]] = []
    dropped: list[str] = []
    for nq in (encoded or "").split("^NQ"):
        clauses: list[list[Term]] = []
        for i, part in enumerate(nq.split("^")):
            is_or = part.startswith("OR") and i > 0 and not part.startswith("ORDERBY")
            if is_or:
                part = part[2:]
            if not part or part == "EQ":
                continue
            if part.startswith("ORDERBYDESC"):
                f = part[len("ORDERBYDESC"):]
                (order.append((f, True)) if known(f) else dropped.append(part))
                continue
            if part.startswith("ORDERBY"):
                f = part[len("ORDERBY"):]
                (order.append((f, False)) if known(f) else dropped.append(part))
                continue
            if part.startswith("GROUPBY"):
                continue
            m = _TERM.match(part)
            if not m or not known(m.group(1)):
                dropped.append(part)
                continue
            term = Term(m.group(1), m.group(2), m.group(3))
            if is_or and clauses:
                clauses[-1].append(term)
            else:
                clauses.append([term])
        groups.append(tuple(tuple(c) for c in clauses))
    return Query(tuple(groups), tuple(order), tuple(dropped))


def select(records: Iterable[dict], query: Query, get: Getter,
           is_numeric: Callable[[str], bool]) -> list[dict]:
    """Records matching ``query``, in its order (stable; insertion order otherwise)."""
    numeric = {t.field: is_numeric(t.field)
               for g in query.groups for c in g for t in c}

    def ok(r: dict) -> bool:
        return any(all(any(t.matches(r, get, numeric[t.field]) for t in clause) for clause in group)
                   for group in query.groups) if query.groups else True

    out = [r for r in records if ok(r)]
    for field, desc in reversed(query.order):
        if is_numeric(field):
            def key(r: dict, f: str = field) -> tuple[int, float]:
                v = get(r, f) or ""
                try:
                    return (1, float(v))
                except ValueError:
                    return (0, 0.0)
        else:
            def key(r: dict, f: str = field) -> tuple[int, float]:  # type: ignore[misc]
                return (get(r, f) or "").lower()  # type: ignore[return-value]
        out.sort(key=key, reverse=desc)
    return out
