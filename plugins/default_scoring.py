"""Built-in plugin: the default scoring model, as a last-resort ``itsm_align_score``."""
from __future__ import annotations

from collections.abc import Sequence

from itsm_align.scoring.model import ScoringSettings, assess
from itsm_align.scoring.types import Assessment, Match, Objective, RuleError, WorkItem

from .markers import hookimpl


@hookimpl(trylast=True)
def itsm_align_score(item: WorkItem, matches: Sequence[Match], objectives: Sequence[Objective],
                     settings: ScoringSettings, ruleset_version: str,
                     errors: Sequence[RuleError]) -> Assessment:
    return assess(item, matches, objectives, settings=settings,
                  ruleset_version=ruleset_version, errors=errors)
