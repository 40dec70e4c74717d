"""Drill-down: the items of the current estate behind a number on the dashboard."""
from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from itsm_align.scoring.types import UNALIGNED

from .estate import current_estate
from .frame import Period

__all__ = ["DRILL_COLUMNS", "drill_down"]

#: Columns of :func:`drill_down`.
DRILL_COLUMNS = ["platform", "item_key", "summary", "objective", "score", "nature", "project",
                 "team", "type", "effort", "url"]

#: A filter value: one value, or any of several.
Choice = str | Collection[str] | None


def _matches(column: pd.Series, wanted: Choice) -> np.ndarray:
    values = [wanted] if isinstance(wanted, str) else list(wanted or ())
    return column.isin(values).to_numpy()


def drill_down(history: pd.DataFrame, *, period: Period | None = None,
               objective: Choice = None, project: Choice = None, team: Choice = None,
               item_type: Choice = None, nature: Choice = None,
               score_range: tuple[float, float] | None = None, unaligned_only: bool = False,
               limit: int | None = None) -> pd.DataFrame:
    """The current-estate items matching every given filter (:data:`DRILL_COLUMNS`).

    Each of ``objective``, ``project``, ``team``, ``item_type`` (the ``type`` column)
    and ``nature`` takes one value or a collection (any of them); ``None`` does not
    filter. ``score_range`` is ``(low, high)``, both inclusive. ``unaligned_only``
    keeps unaligned items. Largest counted effort first (unknown effort counts 1), then
    by key; at most ``limit`` rows.
    """
    estate = current_estate(history, period=period)
    keep = np.ones(len(estate), dtype=bool)
    for column, wanted in (("objective", objective), ("project", project), ("team", team),
                           ("type", item_type), ("nature", nature)):
        if wanted is not None:
            keep &= _matches(estate[column], wanted)
    if score_range is not None:
        low, high = score_range
        scores = estate["score"].to_numpy()
        keep &= (scores >= low) & (scores <= high)
    if unaligned_only:
        keep &= (estate["objective"] == UNALIGNED).to_numpy()
    items = estate[keep].sort_values(["weight", "item_key", "platform"],
                                     ascending=[False, True, True], kind="stable")
    return items.head(limit if limit is not None else len(items))[DRILL_COLUMNS].reset_index(drop=True)
