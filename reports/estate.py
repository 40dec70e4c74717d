"""Which rows count: the latest assessment of each item, and the current estate.

The **current estate** of a period is, per item (``platform`` + ``item_key``) of kind
ticket, its latest assessment assessed within the period. An item whose latest row in
the period is a deletion is gone and does not count; an item not assessed in the period
is not part of that period's estate. Every estate KPI (effort vs priority, unaligned,
scores, nature split, drill-down) counts these rows and nothing else.

All functions here are idempotent: passing an estate back in (with ``period=None``)
returns it unchanged, so a caller computing many KPIs may compute the estate once and
hand it to each of them.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .frame import Period, period_mask, require_history

__all__ = [
    "EstateSummary", "current_estate", "effort_by_objective", "estate_summary",
    "last_in_run", "latest_assessments",
]

TICKETS: tuple[str, ...] = ("ticket",)


def last_in_run(item: np.ndarray, bucket: np.ndarray | None = None) -> np.ndarray:
    """True on the last row of every run of equal ``item`` (and ``bucket``) codes.

    On a normalised history (sorted by item, then time) that row is the item's latest
    assessment (within the bucket).
    """
    last = np.ones(len(item), dtype=bool)
    if len(item) > 1:
        changes = item[1:] != item[:-1]
        if bucket is not None:
            changes |= bucket[1:] != bucket[:-1]
        last[:-1] = changes
    return last


def latest_assessments(history: pd.DataFrame, *, period: Period | None = None,
                       kinds: Collection[str] = TICKETS) -> pd.DataFrame:
    """Per item of one of ``kinds``, its latest assessment within ``period``, unless that
    assessment is a deletion. One row per item, all history columns."""
    require_history(history)
    in_period = period_mask(history, period)
    rows = np.flatnonzero(in_period)
    latest = last_in_run(history["item"].to_numpy()[rows])
    alive = ~history["deleted"].to_numpy()[rows]
    wanted = history["kind"].isin(list(kinds)).to_numpy()[rows]
    return history.take(rows[latest & alive & wanted])


def current_estate(history: pd.DataFrame, *, period: Period | None = None) -> pd.DataFrame:
    """The current estate: per ticket, its latest non-deleted assessment in ``period``."""
    return latest_assessments(history, period=period, kinds=TICKETS)


@dataclass(frozen=True, slots=True)
class EstateSummary:
    """Size of the current estate.

    ``effort`` counts each item with unknown effort as 1 (``unknown_effort_items`` of
    them); ``first``/``last`` are the earliest and latest ``assessed_at`` counted.
    """

    items: int
    effort: float
    unknown_effort_items: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None


def estate_summary(history: pd.DataFrame, *, period: Period | None = None) -> EstateSummary:
    """Count the items and effort of the current estate."""
    estate = current_estate(history, period=period)
    stamps = estate["assessed_at"]
    return EstateSummary(
        items=len(estate),
        effort=float(estate["weight"].sum()),
        unknown_effort_items=int((~estate["effort_known"]).sum()),
        first=stamps.min() if len(estate) else None,
        last=stamps.max() if len(estate) else None,
    )


def effort_by_objective(history: pd.DataFrame, *, period: Period | None = None) -> pd.DataFrame:
    """Items, effort, effort share and unknown-effort count per objective id.

    Indexed by objective id (``unaligned`` included when present); only objectives with
    items in the current estate appear. ``effort_share`` is of the estate's total effort.
    """
    estate = current_estate(history, period=period)
    grouped = (estate.assign(unknown=~estate["effort_known"])
               .groupby("objective", observed=True)
               .agg(items=("weight", "size"), effort=("weight", "sum"),
                    unknown_effort_items=("unknown", "sum")))
    grouped.index = grouped.index.astype(str)
    total = grouped["effort"].sum()
    grouped["effort_share"] = grouped["effort"] / total if total else 0.0
    return grouped
