"""Effort versus priority: does IT spend its effort where the organisation says it matters?

Per objective, the share of the current estate's effort (see :mod:`.estate`; an item
with unknown effort counts 1) beside its stated priority share (weight / sum of
weights) and, when survey responses are given, its surveyed importance share.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from itsm_align.scoring.types import Objective

from .estate import effort_by_objective
from .fmt import format_pct
from .frame import Period
from .objectives import names_of, objective_order, priority_shares
from .survey import importance_by_objective, latest_round, normalise_survey

__all__ = ["effort_vs_priority"]


def effort_vs_priority(history: pd.DataFrame, objectives: Sequence[Objective],
                       survey: pd.DataFrame | None = None, *, period: Period | None = None,
                       survey_round: str | None = None) -> pd.DataFrame:
    """One row per objective: stated priority share against effort share.

    Columns: ``objective`` (id), ``name``, ``weight``, ``priority_share``, ``items``,
    ``effort``, ``effort_share``, ``unknown_effort_items`` (items counted with effort 1
    because theirs is unknown), ``gap`` (effort share minus priority share: positive =
    more effort than the priority asks for) and ``headline``, e.g. "Grow online revenue:
    35% of stated priority, 12% of IT effort".

    With ``survey`` also ``importance_mean``, ``importance_share`` and
    ``importance_gap`` (effort share minus importance share) for ``survey_round``
    (default the latest round), and the headline names the surveyed importance.

    Rows: declared objectives in declared order (with zero effort when no item serves
    them), then objectives only found in the data (retired ones, priority 0), then
    ``unaligned`` (priority 0), which is always present.
    """
    effort = effort_by_objective(history, period=period)
    order = objective_order(objectives, effort.index)
    table = effort.reindex(order).fillna({"items": 0, "effort": 0.0, "effort_share": 0.0,
                                          "unknown_effort_items": 0})
    table = table.rename_axis("objective").reset_index()
    table["items"] = table["items"].astype("int64")
    table["unknown_effort_items"] = table["unknown_effort_items"].astype("int64")
    table["name"] = names_of(table["objective"], objectives)
    table["weight"] = table["objective"].map({o.id: o.weight for o in objectives}).fillna(0)
    table["weight"] = table["weight"].astype("int64")
    table["priority_share"] = table["objective"].map(priority_shares(objectives)).fillna(0.0)
    table["gap"] = table["effort_share"] - table["priority_share"]
    columns = ["objective", "name", "weight", "priority_share", "items", "effort",
               "effort_share", "unknown_effort_items", "gap"]
    headline = (table["name"] + ": " + table["priority_share"].map(format_pct)
                + " of stated priority, " + table["effort_share"].map(format_pct)
                + " of IT effort")
    if survey is not None:
        survey = normalise_survey(survey)
        rated = importance_by_objective(survey, survey_round or latest_round(survey))
        table["importance_mean"] = table["objective"].map(rated["importance_mean"])
        table["importance_share"] = table["objective"].map(rated["importance_share"])
        table["importance_gap"] = table["effort_share"] - table["importance_share"]
        columns += ["importance_mean", "importance_share", "importance_gap"]
        headline = headline.where(table["importance_share"].isna(),
                                  headline + ", " + table["importance_share"].map(format_pct)
                                  + " of surveyed importance")
    table["headline"] = headline
    return table[[*columns, "headline"]]
