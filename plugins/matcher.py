"""The compiled rule index: find, per item, the few rules that can possibly match.

Built once per config load:

* every :class:`FieldEquals` leaf gets a trigger id in a hash index
  ``field -> normalised value -> trigger ids``;
* every :class:`PatternMatch` leaf (keywords and regexes) gets a trigger id in one
  combined ``re2.Set`` per field (identical patterns share one slot);
* each rule gets a *trigger set*: leaves of which at least one must hold for the rule to
  hold. A rule is evaluated only when one of them fired. Rules whose tree can hold
  without any trigger (a bare ``not``, comparisons, plugin predicates) are always
  evaluated.

Per item the cost is one index lookup per indexed field, one RE2 scan per searched field
and the evaluation of the candidate rules: it grows far slower than the rule count.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import re2
from itsm_align.scoring.types import Nature, WorkItem

from .ruletypes import (
    RAW_PREFIX,
    All,
    AnyOf,
    Condition,
    Facts,
    FieldEquals,
    PatternMatch,
    as_text,
    norm,
    option_value,
    read_field,
    scalars,
)

#: Patterns per RE2 set; bigger sets are split so each compiles within the memory budget.
SET_CHUNK = 4000
#: RE2 memory budget per set (the DFA cache grows lazily up to this).
SET_MAX_MEM = 256 << 20


@dataclass(eq=False)
class CompiledRule:
    """One enabled rule, ready to evaluate."""

    id: str
    objective: str | None
    confidence: float
    condition: Condition | None
    position: int  # index in the config's rules list
    nature: Nature | None = None
    inherit: str | None = None
    decay: float = 1.0
    types: frozenset[str] = field(default_factory=frozenset)


def leaves(cond: Condition) -> Iterator[Condition]:
    kids = cond.children()
    if not kids:
        yield cond
    for c in kids:
        yield from leaves(c)


def trigger_set(cond: Condition) -> frozenset[int] | None:
    """Trigger ids of which at least one must fire for ``cond`` to hold; None if no such set."""
    if isinstance(cond, (FieldEquals, PatternMatch)) and cond.tid >= 0:
        return frozenset([cond.tid])
    if isinstance(cond, AnyOf):
        out: set[int] = set()
        for c in cond.items:
            s = trigger_set(c)
            if s is None:
                return None
            out |= s
        return frozenset(out)
    if isinstance(cond, All):
        options = [s for s in (trigger_set(c) for c in cond.items) if s is not None]
        return min(options, key=len) if options else None
    return None  # Not, Predicate, plugin nodes: may hold without any trigger


class _PatternSet:
    """One or more RE2 sets over one field; maps set hits back to trigger ids."""

    def __init__(self, field_name: str, patterns: dict[str, list[int]]) -> None:
        self.field = field_name
        self.sets: list[tuple[re2.Set, list[list[int]]]] = []
        items = list(patterns.items())
        for start in range(0, len(items), SET_CHUNK):
            self._add(items[start:start + SET_CHUNK])

    def _add(self, chunk: list[tuple[str, list[int]]]) -> None:
        options = re2.Options()
        options.max_mem = SET_MAX_MEM
        options.log_errors = False
        s = re2.Set.SearchSet(options)
        for pattern, _ in chunk:
            s.Add(pattern)
        try:
            s.Compile()
        except re2.error:
            if len(chunk) == 1:
                raise
            half = len(chunk) // 2
            self._add(chunk[:half])
            self._add(chunk[half:])
            return
        self.sets.append((s, [tids for _, tids in chunk]))

    def fire(self, item: WorkItem, fired: set[int]) -> None:
        # bytes, so text RE2 cannot take as UTF-8 (lone surrogates) is replaced, not fatal
        text = as_text(read_field(item, self.field)).encode("utf-8", "replace")
        for s, slots in self.sets:
            for i in s.Match(text) or ():
                fired.update(slots[i])


class RuleIndex:
    """Trigger index, RE2 sets and candidate lookup for a list of compiled rules."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.equals: dict[str, dict[str, list[int]]] = {}
        patterns: dict[str, dict[str, list[int]]] = {}
        tid = 0
        for rule in rules:
            if rule.condition is None:
                continue
            for leaf in leaves(rule.condition):
                if isinstance(leaf, FieldEquals):
                    leaf.tid = tid
                    table = self.equals.setdefault(leaf.field, {})
                    for key in leaf.keys:
                        table.setdefault(key, []).append(tid)
                    tid += 1
                elif isinstance(leaf, PatternMatch):
                    leaf.tid = tid
                    patterns.setdefault(leaf.field, {}).setdefault(leaf.pattern, []).append(tid)
                    tid += 1
        self.trigger_count = tid
        self._equals = [(f, table, f[len(RAW_PREFIX):] if f.startswith(RAW_PREFIX) else None)
                        for f, table in self.equals.items()]
        self.pattern_sets = [_PatternSet(f, p) for f, p in patterns.items()]
        self.always: list[CompiledRule] = []
        always: set[int] = set()
        by_trigger: dict[int, list[int]] = {}
        for i, rule in enumerate(rules):
            ts = trigger_set(rule.condition) if rule.condition is not None else None
            if ts is None:
                self.always.append(rule)
                always.add(i)
            else:
                for t in ts:
                    by_trigger.setdefault(t, []).append(i)
        self._always = frozenset(always)
        self._by_trigger = by_trigger

    def facts(self, item: WorkItem) -> Facts:
        """Run the index and the RE2 sets over ``item`` once."""
        fired: set[int] = set()
        seen: dict[int, str] = {}
        raw = item.raw or {}
        for field_name, table, raw_key in self._equals:
            value = raw.get(raw_key) if raw_key is not None else getattr(item, field_name, None)
            if value is None:
                continue
            if value.__class__ is dict:  # a select option: compare by its value
                value = option_value(value)
            if value.__class__ is str:  # the common case: one plain text value
                hit = table.get(norm(value))
                if hit:
                    fired.update(hit)
                    for t in hit:
                        seen.setdefault(t, f"is {value}")
                continue
            many = isinstance(value, (list, tuple))
            for v in scalars(value):
                hit = table.get(norm(v))
                if hit:
                    fired.update(hit)
                    shown = f"includes {v}" if many else f"is {v}"
                    for t in hit:
                        seen.setdefault(t, shown)
        for ps in self.pattern_sets:
            ps.fire(item, fired)
        return Facts(item, fired, seen)

    def candidates(self, facts: Facts) -> list[CompiledRule]:
        """The rules worth evaluating for this item, in config order."""
        if not facts.fired:
            return self.always
        chosen = set(self._always)
        by_trigger = self._by_trigger
        for t in facts.fired:
            hit = by_trigger.get(t)
            if hit:
                chosen.update(hit)
        rules = self.rules
        return [rules[i] for i in sorted(chosen)]
