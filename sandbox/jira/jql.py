"""A JQL subset: enough for what integrations send, with Jira-like errors.

Supported: ``field op value`` with ``= != > >= < <= ~ !~``, ``[NOT] IN (...)``,
``IS [NOT] EMPTY|NULL``; ``AND``, ``OR``, ``NOT``, parentheses; ``ORDER BY f [ASC|DESC], ...``.
Fields: project, key/issuekey, id, summary, description, text, labels, issuetype/type,
status, created, updated, reporter, ``cf[N]``, ``customfield_N`` and custom field names
(quoted when they contain spaces). Values: quoted or bare words, numbers, dates
(``"2024-01-01"``, ``"2024-01-01 10:00"``), relative dates (``-30d``, ``-2w``, ``-4h``, ``-15m``),
``currentUser()`` and ``now()``. Anything else is a 400 with a message in Jira's words.
"""
from __future__ import annotations

import functools
import operator
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from . import adf
from .errors import JiraError
from .model import Issue, Site

Predicate = Callable[[Issue], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|>=|<=|!~|=|>|<|~)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z0-9_.\-+\[\]/:*@]+(?:\(\))?)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC"}
_RELATIVE = re.compile(r"^([-+]?)(\d+)([wdhm])$")
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


def _error(message: str) -> JiraError:
    return JiraError(400, [message])


@dataclass
class Token:
    kind: str  # str, op, punct, word, kw, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            ch = text[pos:].lstrip()[:1]
            raise _error(f"Error in the JQL Query: The character '{ch}' is a reserved JQL character. "
                         f"You must enclose it in a string or use the escape '\\u{ord(ch):04x}' instead. "
                         f"(line 1, character {pos + 1})")
        kind = m.lastgroup or "word"
        raw = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
            tokens.append(Token("str", value, m.start(kind)))
        elif kind == "word" and raw.upper() in _KEYWORDS:
            tokens.append(Token("kw", raw.upper(), m.start(kind)))
        else:
            tokens.append(Token(kind, raw, m.start(kind)))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclass
class Query:
    """A compiled query: ``where`` is None for a query with no restriction."""

    where: Predicate | None
    order: list[tuple[str, bool]]  # (sort field id, descending)
    site: Site
    current_user: str | None

    @property
    def bounded(self) -> bool:
        return self.where is not None

    def matches(self, issue: Issue) -> bool:
        return self.where is None or self.where(issue)

    def sort_values(self, issue: Issue) -> list[Any]:
        return [_sort_value(self.site, issue, fid) for fid, _ in self.order]

    def compare(self, a_vals: list[Any], a_id: int, b_vals: list[Any], b_id: int) -> int:
        for (_, desc), x, y in zip(self.order, a_vals, b_vals):
            if x == y:
                continue
            if x is None:
                return 1
            if y is None:
                return -1
            res = -1 if x < y else 1
            return -res if desc else res
        # Ties (e.g. equal timestamps) fall back to issue id, in the direction of the last sort key.
        tie = (a_id > b_id) - (a_id < b_id)
        return -tie if self.order and self.order[-1][1] else tie

    def sort(self, issues: list[Issue]) -> list[tuple[list[Any], Issue]]:
        keyed = [(self.sort_values(i), i) for i in issues]
        keyed.sort(key=functools.cmp_to_key(lambda a, b: self.compare(a[0], int(a[1].id), b[0], int(b[1].id))))
        return keyed


def _sort_value(site: Site, issue: Issue, fid: str) -> Any:
    if fid == "key":
        return [issue.project, issue.number]
    if fid == "created":
        return issue.created
    if fid == "updated":
        return issue.updated
    if fid == "summary":
        return issue.summary.lower()
    value = issue.values.get(fid)
    field = site.fields.get(fid)
    if value is None or field is None:
        return None
    if field.kind == "select":
        opt = field.option_by_id(value)
        return opt.value.lower() if opt else value
    if field.kind == "float":
        return value
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return adf.adf_to_text(value) if adf.is_adf(value) else str(value)


class _Parser:
    def __init__(self, text: str, site: Site, current_user: str | None, now: float) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.site = site
        self.current_user = current_user
        self.now = now

    # ---- token helpers ---------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "kw" and self.tok.text in words

    def expect(self, what: str) -> None:
        tok = self.tok
        got = tok.text if tok.kind != "end" else "<EOF>"
        raise _error(f"Error in the JQL Query: Expecting {what} but got '{got}'. (line 1, character {tok.pos + 1})")

    # ---- grammar ---------------------------------------------------------
    def parse(self) -> Query:
        where = None
        if not self.is_kw("ORDER") and self.tok.kind != "end":
            where = self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.is_kw("ORDER"):
            self.take()
            if not self.is_kw("BY"):
                self.expect("'by'")
            self.take()
            while True:
                fid = self.sort_field()
                desc = False
                if self.is_kw("ASC", "DESC"):
                    desc = self.take().text == "DESC"
                order.append((fid, desc))
                if self.tok.kind == "punct" and self.tok.text == ",":
                    self.take()
                    continue
                break
            if len(order) > 7:
                raise _error("The ORDER BY clause can contain a maximum of 7 fields.")
        if self.tok.kind != "end":
            self.expect("either 'OR' or 'AND'" if where else "a field name")
        return Query(where, order, self.site, self.current_user)

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.is_kw("OR"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.is_kw("AND"):
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def not_expr(self) -> Predicate:
        if self.is_kw("NOT"):
            self.take()
            inner = self.not_expr()
            return lambda i: not inner(i)
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.take()
            inner = self.or_expr()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                self.expect("')'")
            self.take()
            return inner
        return self.clause()

    def field_name(self) -> str:
        tok = self.tok
        if tok.kind not in {"word", "str"}:
            self.expect("a field name")
        self.take()
        return tok.text

    def resolve(self, name: str) -> str:
        """Field name as written -> our field id (or a pseudo id)."""
        low = name.lower()
        aliases = {"issuekey": "key", "key": "key", "id": "key", "type": "issuetype", "issuetype": "issuetype",
                   "project": "project", "summary": "summary", "description": "description", "text": "text",
                   "labels": "labels", "status": "status", "created": "created", "createddate": "created",
                   "updated": "updated", "updateddate": "updated", "reporter": "reporter",
                   "parent": "parent"}
        if low in aliases:
            return aliases[low]
        m = re.fullmatch(r"cf\[(\d+)\]|customfield_(\d+)", low)
        if m:
            fid = f"customfield_{m.group(1) or m.group(2)}"
            if fid in self.site.fields:
                return fid
        else:
            found = [f for f in self.site.field_by_name(name) if f.custom]
            if found:
                return found[0].id
        raise _error(f"Field '{name}' does not exist or you do not have permission to view it.")

    def sort_field(self) -> str:
        fid = self.resolve(self.field_name())
        if fid == "text":
            raise _error("Field 'text' does not support sorting.")
        return fid

    def value(self) -> Any:
        tok = self.tok
        if tok.kind == "str":
            self.take()
            return tok.text
        if tok.kind == "word":
            self.take()
            if tok.text.lower() == "currentuser()":
                return ("user", self.current_user)
            if tok.text.lower() == "now()":
                return ("time", self.now)
            if tok.text.endswith("()"):
                raise _error(f"Error in the JQL Query: Unable to find JQL function '{tok.text}'.")
            return tok.text
        self.expect("either a value, list or function")
        raise AssertionError

    def clause(self) -> Predicate:
        name_tok = self.tok
        fid = self.resolve(self.field_name())
        if self.is_kw("IS"):
            self.take()
            negate = False
            if self.is_kw("NOT"):
                self.take()
                negate = True
            if not self.is_kw("EMPTY", "NULL"):
                self.expect("'EMPTY' or 'NULL'")
            self.take()
            getter = self.getter(fid)
            return (lambda i: not _empty(getter(i))) if negate else (lambda i: _empty(getter(i)))
        negate_in = False
        if self.is_kw("NOT"):
            self.take()
            if not self.is_kw("IN"):
                self.expect("'IN'")
            negate_in = True
        if self.is_kw("IN"):
            self.take()
            if not (self.tok.kind == "punct" and self.tok.text == "("):
                self.expect("'('")
            self.take()
            values = [self.value()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
                values.append(self.value())
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                self.expect("')'")
            self.take()
            tests = [self.comparison(fid, "=", v, name_tok.text) for v in values]
            if negate_in:
                return lambda i: not any(t(i) for t in tests)
            return lambda i: any(t(i) for t in tests)
        if self.tok.kind != "op":
            self.expect("operator")
        op = self.take().text
        return self.comparison(fid, op, self.value(), name_tok.text)

    # ---- evaluation ------------------------------------------------------
    def getter(self, fid: str) -> Callable[[Issue], Any]:
        site = self.site
        if fid == "key":
            return lambda i: i.key
        if fid == "project":
            return lambda i: i.project
        if fid == "summary":
            return lambda i: i.summary
        if fid == "text":
            return lambda i: i.summary + "\n" + _text(i.values.get("description"))
        if fid == "issuetype":
            return lambda i: i.issuetype
        if fid == "status":
            return lambda i: i.status
        if fid == "created":
            return lambda i: i.created
        if fid == "updated":
            return lambda i: i.updated
        if fid == "reporter":
            return lambda i: i.reporter
        field = site.fields[fid]
        if field.kind == "select":
            def select_value(i: Issue) -> Any:
                v = i.values.get(fid)
                opt = field.option_by_id(v) if v is not None else None
                return opt.value if opt else v
            return select_value
        if field.kind == "multiselect":
            def multi_values(i: Issue) -> Any:
                v = i.values.get(fid)
                if not v:
                    return None
                return tuple((field.option_by_id(x).value if field.option_by_id(x) else x) for x in v)
            return multi_values
        return lambda i: i.values.get(fid)

    def comparison(self, fid: str, op: str, raw: Any, name: str) -> Predicate:
        get = self.getter(fid)
        kind = self.site.fields[fid].kind if fid in self.site.fields else fid
        if isinstance(raw, tuple) and raw[0] == "user":
            raw = raw[1]
        if fid in {"created", "updated"}:
            t = raw[1] if isinstance(raw, tuple) else self.date(str(raw), name)
            return _ordered(get, op, t, name)
        if isinstance(raw, tuple):
            raise _error(f"Error in the JQL Query: function is not valid for field '{name}'.")
        text = str(raw)
        if op in {"~", "!~"}:
            if kind not in {"summary", "description", "text", "textarea", "textfield"}:
                raise _error(f"The operator '{op}' is not supported by the '{name}' field.")
            needle = text.lower().strip("*")
            hit = (lambda i: needle in _text(get(i)).lower())
            return hit if op == "~" else (lambda i: not hit(i))
        if fid == "key":
            m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)-(\d+)", text)
            if not m:
                if text.isdigit():
                    key = self.site.issue_ids.get(text)
                    return (lambda i: i.key == key) if op == "=" else (lambda i: i.key != key)
                raise _error(f"The issue key '{text}' for field '{name}' is invalid.")
            proj, num = m.group(1).upper(), int(m.group(2))
            ops = {"=": lambda i: i.project == proj and i.number == num,
                   "!=": lambda i: not (i.project == proj and i.number == num),
                   ">": lambda i: i.project == proj and i.number > num,
                   ">=": lambda i: i.project == proj and i.number >= num,
                   "<": lambda i: i.project == proj and i.number < num,
                   "<=": lambda i: i.project == proj and i.number <= num}
            return ops[op]
        if fid == "project":
            proj = self.site.project(text.upper()) or self.site.project(text)
            if proj is None:
                for p in self.site.projects.values():
                    if p.name.lower() == text.lower():
                        proj = p
            if proj is None:
                raise _error(f"The value '{text}' does not exist for the field '{name}'.")
            key = proj.key
            if op == "=":
                return lambda i: i.project == key
            if op == "!=":
                return lambda i: i.project != key
            raise _error(f"The operator '{op}' is not supported by the '{name}' field.")
        if kind == "float":
            try:
                number = float(text)
            except ValueError:
                raise _error(f"The value '{text}' is invalid for the '{name}' field.") from None
            return _ordered(get, op, number, name)
        if op not in {"=", "!="}:
            raise _error(f"The operator '{op}' is not supported by the '{name}' field.")
        low = text.lower()
        if kind in {"select", "multiselect"}:
            field = self.site.fields[fid]
            known = {o.value.lower() for c in field.contexts for o in c.options} | {o.id for c in field.contexts for o in c.options}
            if low not in known:
                raise _error(f"The option '{text}' for field '{name}' does not exist.")
        if kind in {"multiselect", "labels"}:
            def contains(i: Issue) -> bool:
                v = get(i)
                return bool(v) and any(str(x).lower() == low for x in v)
            return contains if op == "=" else (lambda i: not contains(i))

        def equal(i: Issue) -> bool:
            v = get(i)
            return v is not None and (str(v).lower() == low)
        return equal if op == "=" else (lambda i: not equal(i))

    def date(self, text: str, name: str) -> float:
        m = _RELATIVE.match(text.strip())
        if m:
            sign = -1 if m.group(1) == "-" else 1
            return self.now + sign * int(m.group(2)) * _UNITS[m.group(3)]
        for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
            try:
                return datetime.strptime(text.strip(), fmt).replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                continue
        raise _error(
            f"Date value '{text}' for field '{name}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return adf.adf_to_text(value) if adf.is_adf(value) else str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == () or value == []


def _ordered(get: Callable[[Issue], Any], op: str, ref: float, name: str) -> Predicate:
    ops = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
           "<": operator.lt, "<=": operator.le}
    if op not in ops:
        raise _error(f"The operator '{op}' is not supported by the '{name}' field.")
    fn = ops[op]
    if op == "!=":
        return lambda i: get(i) is None or fn(get(i), ref)
    return lambda i: get(i) is not None and fn(get(i), ref)


def compile_jql(text: str, site: Site, current_user: str | None = None, now: float | None = None) -> Query:
    """Parse ``text`` against the fields of ``site``; raise :class:`JiraError` (400) when invalid."""
    return _Parser(text or "", site, current_user, time.time() if now is None else now).parse()
