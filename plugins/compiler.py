"""``when:`` YAML -> condition tree, through the rule types plugins registered.

``all`` / ``any`` / ``not`` are structural and handled here; every other key goes to the
rule type that handles it. A mapping with several keys means all of them. Problems are
collected (never raised one by one) with locs relative to the config root.
"""
from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from typing import Any

from .ruleset import Loc, RuleProblem
from .ruletypes import All, AnyOf, Condition, ConditionError, Not, RuleType

log = logging.getLogger(__name__)

COMBINATORS = ("all", "any", "not")


class RuleTypeRegistry:
    """The rule types of one plugin manager, resolved by ``when:`` key."""

    def __init__(self, types: Iterable[Any]) -> None:
        self.types: list[RuleType] = []
        self.problems: list[RuleProblem] = []
        for t in types:
            if not callable(getattr(t, "handles", None)) or not callable(getattr(t, "compile", None)):
                self.problems.append(RuleProblem((), f"plugin returned {t!r} from itsm_align_register_rule_types, "
                                                     "which is not a RuleType (needs handles() and compile())"))
                continue
            self.types.append(t)
        self._fixed: dict[str, RuleType] = {}
        for t in self.types:
            for key in getattr(t, "keys", ()):
                owners = [o for o in self.types if o is not t and o.handles(key)]
                if key in COMBINATORS or owners or key in self._fixed:
                    other = owners[0].name if owners else "the built-in combinators"
                    self.problems.append(RuleProblem((), f"rule type {t.name!r} claims the when: key {key!r}, "
                                                         f"which {other!r} already handles; rename one of them"))
                    continue
                self._fixed[key] = t

    @classmethod
    def from_plugin_manager(cls, pm: Any) -> RuleTypeRegistry:
        results = pm.hook.itsm_align_register_rule_types()
        # pluggy returns last-registered first: reverse so built-ins come first
        return cls(t for result in reversed(results) for t in (result or ()))

    def resolve(self, key: str) -> RuleType | None:
        found = self._fixed.get(key)
        if found is not None:
            return found
        for t in self.types:
            if t.handles(key):
                return t
        return None

    def known(self) -> str:
        return "; ".join(["all, any, not"] + [t.describe_keys() for t in self.types])

    def suggest(self, key: str) -> list[str]:
        from itsm_align.scoring.types import WorkItem

        words = [*COMBINATORS, *self._fixed, *WorkItem.ATTRIBUTES]
        return difflib.get_close_matches(key, words, n=1, cutoff=0.75)


class WhenCompiler:
    """Compiles ``when:`` trees; collects problems and the rule types each rule used."""

    def __init__(self, registry: RuleTypeRegistry) -> None:
        self.registry = registry
        self.problems: list[RuleProblem] = []
        self.used: set[str] = set()

    def compile(self, when: Any, loc: Loc, rule_id: str) -> Condition | None:
        """Compile one rule's ``when``; None when it had problems (recorded)."""
        self.used = set()
        before = len(self.problems)
        cond = self._node(when, loc, rule_id)
        return cond if len(self.problems) == before else None

    def _problem(self, loc: Loc, rule_id: str, msg: str) -> None:
        self.problems.append(RuleProblem(loc, msg, rule_id))

    def _node(self, when: Any, loc: Loc, rule_id: str) -> Condition | None:
        if isinstance(when, list):
            if not when:
                self._problem(loc, rule_id, "an empty list matches nothing; list at least one condition")
                return None
            parts = [self._node(w, loc + (i,), rule_id) for i, w in enumerate(when)]
            return All(parts) if None not in parts else None
        if not isinstance(when, dict) or not when:
            self._problem(loc, rule_id, f"expected a mapping of conditions such as {{project: SHOP}}, got {when!r}")
            return None
        parts = [self._entry(k, v, loc, rule_id) for k, v in when.items()]
        if None in parts:
            return None
        return parts[0] if len(parts) == 1 else All(parts)

    def _entry(self, key: Any, value: Any, loc: Loc, rule_id: str) -> Condition | None:
        here = loc + (key,)
        if not isinstance(key, str):
            self._problem(here, rule_id, f"condition key {key!r} must be text; known: {self.registry.known()}")
            return None
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                self._problem(here, rule_id, f"{key} takes a non-empty list of conditions")
                return None
            parts = [self._node(v, here + (i,), rule_id) for i, v in enumerate(value)]
            if None in parts:
                return None
            return All(parts) if key == "all" else AnyOf(parts)
        if key == "not":
            inner = self._node(value, here, rule_id)
            return Not(inner) if inner is not None else None
        rule_type = self.registry.resolve(key)
        if rule_type is None:
            hint = self.registry.suggest(key)
            self._problem(here, rule_id, f"unknown condition {key!r}"
                          + (f" (did you mean {hint[0]!r}?)" if hint else "")
                          + f"; known: {self.registry.known()}")
            return None
        try:
            cond = rule_type.compile(key, value)
        except ConditionError as exc:
            self._problem(here + exc.loc, rule_id, exc.message)
            return None
        except Exception as exc:  # a plugin's bug must not hide the other problems
            log.exception("rule type %s failed compiling rule %s", rule_type.name, rule_id)
            self._problem(here, rule_id, f"rule type {rule_type.name!r} failed on this value: {exc!r}")
            return None
        if not isinstance(cond, Condition):
            self._problem(here, rule_id, f"rule type {rule_type.name!r} returned {cond!r}, not a Condition")
            return None
        self.used.add(rule_type.name)
        return cond
