"""What a rule type is, and the condition nodes every rule compiles to.

A rule type (built in or from a third-party plugin, registered through the
``itsm_align_register_rule_types`` hook) turns one ``when:`` entry, e.g.
``{project: [SHOP, PAY]}`` or ``{text: {any: [gdpr]}}``, into a tree of the condition nodes
below. The nodes tell the compiler how each leaf can be found fast:

* :class:`FieldEquals` - looked up in one hash index per attribute;
* :class:`PatternMatch` - an RE2 pattern run in one combined ``re2.Set`` per field;
* :class:`Predicate` - any Python check; always evaluated (use it for comparisons, or
  for things no index can answer);
* :class:`All` / :class:`AnyOf` / :class:`Not` - the combinators.

Leaves return a short human-readable reason when they hold ("project is SHOP"), else None.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from itsm_align.scoring.types import WorkItem

#: Condition keys naming a raw platform field: ``fields.customfield_10070``.
RAW_PREFIX = "fields."
#: Pseudo field holding summary and description, one after the other.
TEXT = "text"


class ConditionError(ValueError):
    """A ``when:`` entry a rule type cannot compile; ``loc`` is relative to that entry."""

    def __init__(self, message: str, loc: tuple = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = tuple(loc)


class RuleType:
    """Base class of rule types. Subclass, set ``name`` and ``keys``, implement ``compile``.

    ``keys`` are the ``when:`` keys this type handles (override :meth:`handles` for a
    family of keys). :meth:`compile` gets the key and its YAML value and returns a
    :class:`Condition`; raise :class:`ConditionError` with a message that says what to
    change for a value it cannot use. Compilation happens once per config load.
    """

    name: str = ""
    keys: tuple[str, ...] = ()

    def handles(self, key: str) -> bool:
        return key in self.keys

    def describe_keys(self) -> str:
        """How the keys of this type read in an 'unknown key; known: ...' message."""
        return ", ".join(self.keys)

    def compile(self, key: str, value: Any) -> Condition:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(slots=True)
class Facts:
    """What the compiled index and RE2 sets found for one item, shared by all rules.

    ``fired`` holds the trigger ids that hold; ``seen`` maps an equality trigger id to the
    item value that matched it (so a reason needs no second look at the item).
    """

    item: WorkItem
    fired: set[int]
    seen: dict[int, str] = field(default_factory=dict)


class Condition:
    """A compiled condition node."""

    __slots__ = ()

    def evaluate(self, facts: Facts) -> str | None:
        """A reason when the condition holds for ``facts.item``, else None."""
        raise NotImplementedError

    def describe(self) -> str:
        """What the condition asks for, e.g. ``project in [SHOP, PAY]``."""
        raise NotImplementedError

    def describe_negated(self) -> str:
        """What ``not`` this condition asks for, e.g. ``type is not incident``."""
        return f"not ({self.describe()})"

    def why_not(self, facts: Facts) -> str:
        """Why it does not hold (called only when :meth:`evaluate` returned None)."""
        return f"needs {self.describe()}"

    def children(self) -> tuple[Condition, ...]:
        return ()

    def reads(self) -> frozenset[str]:
        """WorkItem attribute names and ``fields.<id>`` ids this node reads."""
        out: frozenset[str] = frozenset()
        for c in self.children():
            out |= c.reads()
        return out


# ---------------------------------------------------------------- value helpers

def read_field(item: WorkItem, name: str) -> Any:
    """The value of a WorkItem attribute, ``fields.<id>`` raw field or ``text``."""
    if name == TEXT:
        return f"{item.summary or ''}\n{item.description or ''}"
    if name.startswith(RAW_PREFIX):
        return (item.raw or {}).get(name[len(RAW_PREFIX):])
    return getattr(item, name, None)


def option_value(value: Any) -> Any:
    """A select option object compares by its value (``{"value": "Checkout", ...}``)."""
    if isinstance(value, dict):
        for k in ("value", "name", "display_value", "key"):
            if k in value:
                return value[k]
    return value


def scalars(value: Any) -> list[Any]:
    """Flatten lists and option objects into plain values; None and '' become []."""
    if value.__class__ is str:  # fast path
        return [value] if value else []
    value = option_value(value)
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for v in value for s in scalars(v)]
    return [value]


_NUMERIC_START = frozenset("0123456789+-.")


def norm(value: Any) -> str:
    """The key equality compares by: case-folded text; 1, 1.0 and "1" are equal."""
    if value.__class__ is str:  # the common case, kept fast
        text = value.strip().casefold()
        if not text or text[0] not in _NUMERIC_START:
            return text
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, (int, float)):
        f = float(value)
        if f != f or f in (float("inf"), float("-inf")):
            return repr(f)
        return str(int(f)) if f.is_integer() else repr(f)
    elif isinstance(value, (datetime, date)):
        return value.isoformat()
    else:
        text = str(value).strip().casefold()
    try:  # numeric strings ("3", "3.0") compare like numbers
        f = float(text)
    except ValueError:
        return text
    return norm(f) if f == f and f not in (float("inf"), float("-inf")) else text


def as_text(value: Any) -> str:
    """A field's value as the text an RE2 pattern searches."""
    return "\n".join(str(v) for v in scalars(value))


def show(values: Iterable[Any]) -> str:
    vals = [str(v) for v in values]
    return vals[0] if len(vals) == 1 else "[" + ", ".join(vals) + "]"


# ---------------------------------------------------------------- leaves

class FieldEquals(Condition):
    """The field (or any element of a list field) equals one of ``values``."""

    __slots__ = ("field", "values", "keys", "tid")

    def __init__(self, field: str, values: Iterable[Any]) -> None:
        self.field = field
        self.values = tuple(values)
        self.keys = frozenset(norm(v) for v in self.values)
        self.tid = -1  # trigger id, set by the compiler

    def evaluate(self, facts: Facts) -> str | None:
        if self.tid >= 0:
            seen = facts.seen.get(self.tid)
            return None if seen is None else f"{self.field} {seen}"
        value = read_field(facts.item, self.field)
        for v in scalars(value):
            if norm(v) in self.keys:
                return f"{self.field} {'includes' if isinstance(value, (list, tuple)) else 'is'} {v}"
        return None

    def describe(self) -> str:
        return f"{self.field} {'is' if len(self.values) == 1 else 'in'} {show(self.values)}"

    def describe_negated(self) -> str:
        return f"{self.field} {'is not' if len(self.values) == 1 else 'not in'} {show(self.values)}"

    def why_not(self, facts: Facts) -> str:
        have = scalars(read_field(facts.item, self.field))
        return f"{self.field} is {show(have) if have else 'empty'}, not {show(self.values)}"

    def reads(self) -> frozenset[str]:
        return frozenset([self.field])


class PatternMatch(Condition):
    """An RE2 pattern found in a field (``text`` = summary + description).

    ``label`` is what the reason shows, e.g. ``text mentions 'gdpr'``.
    """

    __slots__ = ("field", "pattern", "label", "regex", "tid")

    def __init__(self, field: str, pattern: str, label: str) -> None:
        import re2  # compiled once here: a pattern RE2 cannot run fails at config load

        self.field = field
        self.pattern = pattern
        self.label = label
        options = re2.Options()
        options.log_errors = False  # the ConditionError below says it; no log noise on stderr
        try:
            self.regex = re2.compile(pattern, options)
        except re2.error as exc:
            raise ConditionError(
                f"RE2 cannot compile pattern {pattern!r} ({exc}); RE2 runs in linear time "
                "and has no look-around or back-references: rewrite the pattern without them"
            ) from None
        self.tid = -1

    def evaluate(self, facts: Facts) -> str | None:
        if self.tid >= 0:
            return self.label if self.tid in facts.fired else None
        text = as_text(read_field(facts.item, self.field)).encode("utf-8", "replace")
        return self.label if self.regex.search(text) else None

    def describe(self) -> str:
        return self.label.replace("mentions", "mentioning").replace("matches", "matching")

    def why_not(self, facts: Facts) -> str:
        return f"no {self.describe()}"

    def reads(self) -> frozenset[str]:
        return frozenset(["summary", "description"]) if self.field == TEXT else frozenset([self.field])


class Predicate(Condition):
    """Any check in Python: ``check(item)`` returns a reason (or True) when it holds."""

    __slots__ = ("fields", "check", "description")

    def __init__(self, fields: Iterable[str], check: Callable[[WorkItem], str | bool | None],
                 description: str) -> None:
        self.fields = frozenset(fields)
        self.check = check
        self.description = description

    def evaluate(self, facts: Facts) -> str | None:
        result = self.check(facts.item)
        if result is True:
            return self.description
        return result or None

    def describe(self) -> str:
        return self.description

    def reads(self) -> frozenset[str]:
        return self.fields


# ---------------------------------------------------------------- combinators

class All(Condition):
    """Every child holds; the reason joins theirs with 'and'."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Condition]) -> None:
        self.items = tuple(items)

    def evaluate(self, facts: Facts) -> str | None:
        reasons = []
        for c in self.items:
            r = c.evaluate(facts)
            if r is None:
                return None
            reasons.append(r)
        return " and ".join(reasons)

    def describe(self) -> str:
        return "all of (" + "; ".join(c.describe() for c in self.items) + ")"

    def why_not(self, facts: Facts) -> str:
        for c in self.items:
            if c.evaluate(facts) is None:
                return c.why_not(facts)
        return "holds"

    def children(self) -> tuple[Condition, ...]:
        return self.items


class AnyOf(Condition):
    """At least one child holds; the reason is the first one's."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Condition]) -> None:
        self.items = tuple(items)

    def evaluate(self, facts: Facts) -> str | None:
        for c in self.items:
            r = c.evaluate(facts)
            if r is not None:
                return r
        return None

    def describe(self) -> str:
        return "any of (" + "; ".join(c.describe() for c in self.items) + ")"

    def why_not(self, facts: Facts) -> str:
        if len(self.items) == 1:
            return self.items[0].why_not(facts)
        return "none of (" + "; ".join(c.describe() for c in self.items) + ")"

    def children(self) -> tuple[Condition, ...]:
        return self.items


class Not(Condition):
    """The child does not hold."""

    __slots__ = ("item",)

    def __init__(self, item: Condition) -> None:
        self.item = item

    def evaluate(self, facts: Facts) -> str | None:
        if self.item.evaluate(facts) is None:
            return self.item.describe_negated()
        return None

    def describe(self) -> str:
        return self.item.describe_negated()

    def describe_negated(self) -> str:
        return self.item.describe()

    def why_not(self, facts: Facts) -> str:
        return f"{self.item.evaluate(facts)}"

    def children(self) -> tuple[Condition, ...]:
        return (self.item,)
