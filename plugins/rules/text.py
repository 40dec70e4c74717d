"""Built-in rule type: keywords and phrases in the summary and description.

YAML forms::

    {text: gdpr}                                   # one keyword
    {text: [gdpr, dpia]}                           # any of them
    {text: {any: [gdpr, "data subject"]}}          # any of them
    {text: {all: [invoice, "credit card"]}}        # all of them (both keys: both hold)

Matching is case-insensitive, on whole words and phrases (``gdpr`` does not match
``gdprx``; ``data subject`` matches ``Data   Subject`` across any whitespace). Every
keyword of every rule goes into one combined RE2 set, run once per item.
"""
from __future__ import annotations

from typing import Any

import re2

from ..markers import hookimpl
from ..ruletypes import TEXT, All, AnyOf, Condition, ConditionError, PatternMatch, RuleType

#: Word edges. RE2's ``\b`` is ASCII-only but cheap in a big set, so it is used where the
#: keyword starts/ends with an ASCII word character; a non-ASCII letter at an edge gets an
#: explicit Unicode class instead (costlier, so only there).
_EDGE_BEFORE = r"(?:^|[^\pL\pN_])"
_EDGE_AFTER = r"(?:$|[^\pL\pN_])"


def _ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def keyword_pattern(phrase: str) -> str:
    """The RE2 pattern finding ``phrase`` as whole words, any case, any whitespace."""
    words = phrase.split()
    body = r"\s+".join(re2.escape(w) for w in words)
    first, last = words[0][0], words[-1][-1]
    before = r"\b" if _ascii_word(first) else (_EDGE_BEFORE if first.isalnum() else "")
    after = r"\b" if _ascii_word(last) else (_EDGE_AFTER if last.isalnum() else "")
    return f"(?i){before}{body}{after}"


class TextRuleType(RuleType):
    name = "text"
    keys = (TEXT,)

    def compile(self, key: str, value: Any) -> Condition:
        if isinstance(value, (str, list)):
            return self._group(value if isinstance(value, list) else [value], "any", ())
        if isinstance(value, dict):
            unknown = [k for k in value if k not in ("any", "all")]
            if unknown or not value:
                raise ConditionError(
                    f"text: unknown key {unknown[0]!r}; known: any, all" if unknown
                    else "text: give {any: [...]} or {all: [...]}", tuple(unknown[:1]))
            parts = [self._group(v if isinstance(v, list) else [v], mode, (mode,))
                     for mode, v in value.items()]
            return parts[0] if len(parts) == 1 else All(parts)
        raise ConditionError(f"text: expected a keyword, a list or {{any|all: [...]}}, got {value!r}")

    @staticmethod
    def _group(words: list[Any], mode: str, loc: tuple) -> Condition:
        leaves = []
        for i, w in enumerate(words):
            if not isinstance(w, (str, int, float)) or not str(w).strip():
                raise ConditionError(f"text: keyword {w!r} must be non-empty text", (*loc, i))
            phrase = " ".join(str(w).split())
            leaves.append(PatternMatch(TEXT, keyword_pattern(phrase), f"text mentions '{phrase}'"))
        if not leaves:
            raise ConditionError("text: list at least one keyword", loc)
        if len(leaves) == 1:
            return leaves[0]
        return AnyOf(leaves) if mode == "any" else All(leaves)


@hookimpl
def itsm_align_register_rule_types() -> list[RuleType]:
    return [TextRuleType()]
