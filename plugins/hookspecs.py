"""Hook specifications of itsm-align: the whole plugin surface, and nothing else.

Implement any of these in a module or class, mark each with
``from itsm_align.plugins import hookimpl`` and register the module under the entry-point
group ``itsm_align``. Arguments are passed by name; an implementation may accept any
subset of them.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .markers import hookspec

if TYPE_CHECKING:  # typing only: keeps this module free of run-time imports
    from itsm_align.scoring.model import ScoringSettings
    from itsm_align.scoring.types import Assessment, Match, Objective, RuleError, WorkItem

    from .ruletypes import RuleType


@hookspec
def itsm_align_register_rule_types() -> list[RuleType]:
    """Contribute rule types an admin can use under ``when:`` in the rule file.

    Called once per config load (each time an engine is built). Return a list of
    :class:`itsm_align.plugins.ruletypes.RuleType` instances; each names the ``when:``
    keys it handles and compiles their YAML values into condition nodes. A key claimed by
    two rule types is a config error. Return None (or an empty list) to add nothing.
    """


@hookspec
def itsm_align_match(item: WorkItem, objectives: Sequence[Objective]) -> Iterable[Match] | None:
    """Contribute matches computed in code for one item, next to the YAML rules.

    ``item`` is the normalised ticket or project; ``objectives`` the configured objectives,
    in config order. Return an iterable of :class:`~itsm_align.scoring.types.Match` (each
    naming a configured objective id, a confidence 0..1, a rule id and a reason), or None
    for no opinion. Every implementation runs inside its own error boundary: one that
    raises is recorded in ``Assessment.errors`` as ``plugin:<name>`` and logged, and the
    others still run.
    """


@hookspec(firstresult=True)
def itsm_align_score(
    item: WorkItem,
    matches: Sequence[Match],
    objectives: Sequence[Objective],
    settings: ScoringSettings,
    ruleset_version: str,
    errors: Sequence[RuleError],
) -> Assessment | None:
    """Turn the matches for one item into its Assessment (replace the scoring model).

    ``item`` is the item being assessed (``item.current`` says whether a person set its
    objective); ``matches`` every match of every rule and plugin for it; ``objectives``
    the configured objectives in config order; ``settings`` the ``scoring:`` config
    section; ``ruleset_version`` and ``errors`` (rules that raised) belong in the returned
    Assessment. This is a *firstresult* hook: the first non-None result wins; return None
    to leave the decision to the next implementation. The built-in implementation
    (``trylast``) applies the default model, ``itsm_align.scoring.model.assess``. An
    implementation that raises is logged and recorded as ``plugin:score``, and the
    default model decides.
    """


@hookspec
def itsm_align_assessed(item: WorkItem, assessment: Assessment) -> None:
    """Observe each finished assessment (metrics, audit, notifications).

    ``item`` is the item as assessed; ``assessment`` the result, after scoring and before
    it is written anywhere. The return value is ignored (return None); an implementation
    that raises is logged and neither stops the others nor changes the assessment.
    """
