"""How alignment moves over time, per calendar week or month.

Bucketing rule: every assessment counts in the bucket (week or month) of its own
``assessed_at``. Within one bucket an item counts once, with its latest assessment in
that bucket, unless that assessment is a deletion. So a ticket assessed in January and
re-assessed in March counts in January with its January assessment and in March with
its March one: each period shows the work as it was when it was worked. Buckets in
which nothing was assessed are absent. Weeks start on Monday; buckets are labelled by
their first day (UTC). Tickets only, as in the current estate.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from itsm_align.scoring.types import UNALIGNED, Objective

from .estate import last_in_run
from .frame import Period, period_mask, require_history
from .nature import nature_counts
from .objectives import names_of, objective_order

__all__ = ["Freq", "bucket_latest", "nature_trend", "objective_trend", "trend"]

Freq: TypeAlias = Literal["week", "month"]

_NS_PER_DAY = 86_400 * 10**9
#: 1970-01-01 was a Thursday: shifting days by 3 makes weeks start on Monday.
_MONDAY_SHIFT = 3


def _bucket_codes(nanos: np.ndarray, freq: Freq) -> tuple[np.ndarray, np.ndarray]:
    """Integer bucket codes of UTC nanosecond times, and each code's first instant."""
    days = nanos // _NS_PER_DAY
    if freq == "week":
        codes = (days + _MONDAY_SHIFT) // 7
        starts = (codes * 7 - _MONDAY_SHIFT) * _NS_PER_DAY
    elif freq == "month":
        codes = nanos.view("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
        starts = codes.astype("datetime64[M]").astype("datetime64[ns]").astype(np.int64)
    else:
        raise ValueError(f"freq must be 'week' or 'month', not {freq!r}")
    return codes, starts


def bucket_latest(history: pd.DataFrame, *, freq: Freq = "month",
                  period: Period | None = None) -> pd.DataFrame:
    """The rows each bucket counts (see the module docstring), with a ``bucket`` column
    (the bucket's first instant, UTC). Columns: bucket, item, objective, nature, score,
    weight."""
    require_history(history)
    rows = np.flatnonzero(period_mask(history, period) & (history["kind"] == "ticket").to_numpy())
    codes, starts = _bucket_codes(history["assessed_at"].array.asi8[rows], freq)
    latest = last_in_run(history["item"].to_numpy()[rows], codes)
    keep = latest & ~history["deleted"].to_numpy()[rows]
    counted = history[["item", "objective", "nature", "score", "weight"]].take(rows[keep])
    counted.insert(0, "bucket", pd.to_datetime(starts[keep], utc=True))
    return counted


def trend(history: pd.DataFrame, *, freq: Freq = "month",
          period: Period | None = None) -> pd.DataFrame:
    """Per bucket: ``items``, ``effort``, ``unaligned_items``, ``unaligned_effort``,
    ``unaligned_item_share``, ``unaligned_effort_share``, ``mean_score`` (per item) and
    ``reactive_effort_share``; oldest bucket first."""
    counted = bucket_latest(history, freq=freq, period=period)
    unaligned = (counted["objective"] == UNALIGNED).to_numpy()
    weight = counted["weight"].to_numpy()
    reactive = (counted["nature"] == "reactive").to_numpy()
    parts = pd.DataFrame({"bucket": counted["bucket"], "items": 1, "effort": weight,
                          "unaligned_items": unaligned.astype("int64"),
                          "unaligned_effort": weight * unaligned,
                          "score": counted["score"], "reactive_effort": weight * reactive})
    grouped = parts.groupby("bucket")
    table = grouped[["items", "effort", "unaligned_items", "unaligned_effort",
                     "reactive_effort"]].sum()
    table["unaligned_item_share"] = table["unaligned_items"] / table["items"]
    table["unaligned_effort_share"] = table["unaligned_effort"] / table["effort"]
    table["mean_score"] = grouped["score"].mean()
    table["reactive_effort_share"] = table["reactive_effort"] / table["effort"]
    return table.drop(columns="reactive_effort").reset_index()


def nature_trend(history: pd.DataFrame, *, freq: Freq = "month",
                 period: Period | None = None) -> pd.DataFrame:
    """Per bucket: proactive and reactive items, effort and shares (the columns of
    :func:`.nature.nature_split`); oldest bucket first."""
    counted = bucket_latest(history, freq=freq, period=period)
    return nature_counts(counted, [counted["bucket"]]).reset_index()


def objective_trend(history: pd.DataFrame, objectives: Sequence[Objective], *,
                    freq: Freq = "month", period: Period | None = None) -> pd.DataFrame:
    """Effort share per objective per bucket, long format: ``bucket``, ``objective``,
    ``name``, ``items``, ``effort``, ``effort_share`` (of the bucket's effort). Only
    objectives with items in a bucket appear in it; rows in bucket then objective order
    (as :func:`.objectives.objective_order`)."""
    counted = bucket_latest(history, freq=freq, period=period)
    table = (counted.groupby(["bucket", "objective"], observed=True)["weight"]
             .agg(items="size", effort="sum").reset_index())
    table["objective"] = table["objective"].astype("str")
    table["effort_share"] = table["effort"] / table.groupby("bucket")["effort"].transform("sum")
    order = objective_order(objectives, table["objective"].unique())
    table["_rank"] = table["objective"].map({oid: i for i, oid in enumerate(order)})
    table = table.sort_values(["bucket", "_rank"], kind="stable").drop(columns="_rank")
    table.insert(2, "name", names_of(table["objective"], objectives))
    return table.reset_index(drop=True)
