r"""Built-in rule type: regular expressions, run by RE2 (linear time, no catastrophic backtracking).

YAML forms::

    {regex: 'INC\d{7}'}                          # searched in summary + description
    {regex: {summary: '(?i)^\[sec\]'}}            # in one field (attribute or fields.<id>)
    {regex: {text: 'PCI', assignment_group: '^NET-'}}   # several fields: all must match

Patterns search anywhere in the value (anchor with ^ and $); they are case-sensitive
unless they start with ``(?i)``. A pattern RE2 cannot compile is a config error.
"""
from __future__ import annotations

from typing import Any

from itsm_align.scoring.types import WorkItem

from ..markers import hookimpl
from ..ruletypes import RAW_PREFIX, TEXT, All, Condition, ConditionError, PatternMatch, RuleType


class RegexRuleType(RuleType):
    name = "regex"
    keys = ("regex",)

    def compile(self, key: str, value: Any) -> Condition:
        bare = isinstance(value, str)
        if bare:
            value = {TEXT: value}
        if not isinstance(value, dict) or not value:
            raise ConditionError("regex: give a pattern or {field: pattern}, "
                                 f"e.g. {{regex: {{summary: '^\\[SEC\\]'}}}}; got {value!r}")
        parts = []
        for field, pattern in value.items():
            if field != TEXT and field not in WorkItem.ATTRIBUTES and not str(field).startswith(RAW_PREFIX):
                raise ConditionError(
                    f"regex: unknown field {field!r}; use text, fields.<id> or one of "
                    + ", ".join(WorkItem.ATTRIBUTES), (field,))
            if not isinstance(pattern, str) or not pattern:
                raise ConditionError(f"regex: the pattern for {field} must be non-empty text", (field,))
            try:
                parts.append(PatternMatch(field, pattern, f"{field} matches /{pattern}/"))
            except ConditionError as exc:
                raise ConditionError(exc.message, () if bare else (field,)) from None
        return parts[0] if len(parts) == 1 else All(parts)


@hookimpl
def itsm_align_register_rule_types() -> list[RuleType]:
    return [RegexRuleType()]
