"""Proactive versus reactive work in the current estate.

Proactive work is planned improvement; reactive work answers something broken. Shares
are given by items and by effort (unknown effort counts 1).
"""
from __future__ import annotations

import pandas as pd

from .estate import current_estate
from .frame import Period
from .groups import Dimension, group_keys

__all__ = ["NATURE_COLUMNS", "nature_counts", "nature_split"]

#: Columns every nature table has (after its group column, if any).
NATURE_COLUMNS = ["items", "proactive_items", "reactive_items", "effort", "proactive_effort",
                  "reactive_effort", "proactive_item_share", "reactive_item_share",
                  "proactive_effort_share", "reactive_effort_share"]


def nature_counts(rows: pd.DataFrame, keys: list[pd.Series]) -> pd.DataFrame:
    """Sum items and effort by nature over ``rows`` grouped by ``keys`` (an empty list:
    one row for all), with the shares of :data:`NATURE_COLUMNS`."""
    reactive = (rows["nature"] == "reactive").to_numpy()
    proactive = (rows["nature"] == "proactive").to_numpy()
    weight = rows["weight"].to_numpy()
    parts = pd.DataFrame({"items": 1, "proactive_items": proactive.astype("int64"),
                          "reactive_items": reactive.astype("int64"), "effort": weight,
                          "proactive_effort": weight * proactive,
                          "reactive_effort": weight * reactive}, index=rows.index)
    if keys:
        sums = parts.groupby(keys, observed=True).sum()
    else:
        sums = parts.sum().to_frame().T.astype({c: "int64" for c in
                                                 ("items", "proactive_items", "reactive_items")})
    for nature in ("proactive", "reactive"):
        sums[f"{nature}_item_share"] = sums[f"{nature}_items"] / sums["items"]
        sums[f"{nature}_effort_share"] = sums[f"{nature}_effort"] / sums["effort"]
    return sums[NATURE_COLUMNS].fillna(0.0)


def nature_split(history: pd.DataFrame, *, by: Dimension | None = None,
                 period: Period | None = None) -> pd.DataFrame:
    """Proactive and reactive items and effort with their shares (:data:`NATURE_COLUMNS`).

    Without ``by`` one row for the whole estate; with ``by`` (objective, project, team
    or type) one row per group, the group in column ``by`` ("(none)" for no value),
    largest effort first.
    """
    estate = current_estate(history, period=period)
    if by is None:
        return nature_counts(estate, []).reset_index(drop=True)
    table = nature_counts(estate, [group_keys(estate, by)])
    table.index = table.index.astype("str")
    table = table.rename_axis(by).reset_index()
    return table.sort_values(["effort", by], ascending=[False, True],
                             kind="stable").reset_index(drop=True)
