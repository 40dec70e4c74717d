"""Alignment score distribution of the current estate.

Scores are counted per item (not weighted by effort): the question is how well the
items are aligned, and one large item should not hide many poorly aligned small ones.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .estate import current_estate
from .frame import Period
from .groups import Dimension, group_keys

__all__ = ["SCORE_BINS", "score_histogram", "score_summary"]

#: Histogram bins as (label, lowest, highest score), both ends inclusive; the last bin
#: holds 90..100 so that 100 is not a bin of its own.
SCORE_BINS: tuple[tuple[str, int, int], ...] = tuple(
    (f"{low}-{low + 9 if low < 90 else 100}", low, low + 9 if low < 90 else 100)
    for low in range(0, 100, 10))


def score_histogram(history: pd.DataFrame, *, period: Period | None = None) -> pd.DataFrame:
    """Items per score bin (0-9, 10-19, ..., 90-100): columns ``bin``, ``low``, ``high``,
    ``items``, ``share`` (of all items)."""
    scores = current_estate(history, period=period)["score"].to_numpy()
    bins = np.clip(np.floor(scores[~np.isnan(scores)] / 10), 0, 9).astype(np.int64)
    counts = np.bincount(bins, minlength=len(SCORE_BINS))
    total = counts.sum()
    return pd.DataFrame({
        "bin": [label for label, _, _ in SCORE_BINS],
        "low": [low for _, low, _ in SCORE_BINS],
        "high": [high for _, _, high in SCORE_BINS],
        "items": counts,
        "share": counts / total if total else np.zeros(len(SCORE_BINS)),
    })


def score_summary(history: pd.DataFrame, by: Dimension = "objective", *,
                  period: Period | None = None) -> pd.DataFrame:
    """Score statistics per value of ``by`` (objective, project, team or type).

    Columns: ``by`` (the group; items without a value form the group "(none)"),
    ``count``, ``mean``, ``median``, ``p25``, ``p75`` (linear interpolation). Largest
    groups first, then by group name.
    """
    estate = current_estate(history, period=period)
    grouped = estate["score"].groupby(group_keys(estate, by), observed=True)
    stats = grouped.agg(["count", "mean", "median"])
    stats["p25"] = grouped.quantile(0.25)
    stats["p75"] = grouped.quantile(0.75)
    stats.index = stats.index.astype("str")
    stats = stats.rename_axis(by).reset_index()
    stats["count"] = stats["count"].astype("int64")
    return stats.sort_values(["count", by], ascending=[False, True],
                             kind="stable").reset_index(drop=True)
