"""Rule-change preview: where would items move if the rules changed?

Given each item's objective before and after a rule change (the caller assesses the
items with both rule sets), :func:`transition_table` counts the items and effort in
every "objective before -> objective after" cell, and :func:`transition_lines` says it
in plain text for a terminal or a change request.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from itsm_align.scoring.types import Objective

from .fmt import format_effort
from .frame import DEFAULT_EFFORT
from .objectives import display_name, objective_names

__all__ = ["NOT_ASSESSED", "Side", "transition_lines", "transition_table"]

#: The cell label of an item absent from one side (new, or no longer assessed).
NOT_ASSESSED = "(not assessed)"

#: One side of the comparison: a Series of objective ids indexed by item key, or a
#: DataFrame with columns ``item_key``, ``objective`` and optionally ``effort``.
Side = pd.Series | pd.DataFrame


def _objectives(side: Side, label: str) -> pd.Series:
    if isinstance(side, pd.DataFrame):
        missing = {"item_key", "objective"} - set(side.columns)
        if missing:
            raise ValueError(f"{label} lacks column(s) {', '.join(sorted(missing))}")
        side = side.set_index("item_key")["objective"]
    if not side.index.is_unique:
        raise ValueError(f"{label}: each item key may appear only once")
    return side.astype(object)


def _effort(before: Side, after: Side, effort: pd.Series | None) -> pd.Series:
    if effort is not None:
        return effort
    sides = [side.set_index("item_key")["effort"] for side in (after, before)
             if isinstance(side, pd.DataFrame) and "effort" in side.columns]
    if not sides:
        return pd.Series(dtype="float64")
    return sides[0].combine_first(sides[1]) if len(sides) == 2 else sides[0]


def transition_table(before: Side, after: Side, effort: pd.Series | None = None, *,
                     examples: int = 3) -> pd.DataFrame:
    """Count items and effort per "objective before -> objective after" cell.

    Items are matched by item key (Jira keys and ServiceNow numbers do not collide); an
    item on one side only is :data:`NOT_ASSESSED` on the other. ``effort`` (indexed by
    item key) defaults to the ``effort`` column of ``after``, then ``before``, when they
    are DataFrames; unknown or non-positive effort counts 1, as everywhere in reports.

    Columns: ``before``, ``after``, ``items``, ``effort``, ``examples`` (a tuple of up
    to ``examples`` item keys, largest effort first, then by key) and ``changed``
    (before != after). Changed cells come first, largest effort first.
    """
    old, new = _objectives(before, "before"), _objectives(after, "after")
    keys = old.index.union(new.index)
    raw_effort = pd.to_numeric(_effort(before, after, effort).reindex(keys),
                               errors="coerce").to_numpy(dtype="float64")
    known = np.isfinite(raw_effort) & (raw_effort > 0)
    cells = pd.DataFrame({
        "before": old.reindex(keys).fillna(NOT_ASSESSED).astype("str").to_numpy(),
        "after": new.reindex(keys).fillna(NOT_ASSESSED).astype("str").to_numpy(),
        "key": keys.astype("str"),
        "weight": np.where(known, raw_effort, DEFAULT_EFFORT),
    }).sort_values(["weight", "key"], ascending=[False, True], kind="stable")
    grouped = cells.groupby(["before", "after"], sort=False)
    table = grouped.agg(items=("key", "size"), effort=("weight", "sum"))
    table["examples"] = (cells[grouped.cumcount().to_numpy() < examples]
                         .groupby(["before", "after"], sort=False)["key"].agg(tuple))
    table = table.reset_index()
    table["changed"] = table["before"] != table["after"]
    return table.sort_values(["changed", "effort", "items", "before", "after"],
                             ascending=[False, False, False, True, True],
                             kind="stable").reset_index(drop=True)


def transition_lines(table: pd.DataFrame, objectives: Sequence[Objective] = (), *,
                     changed_only: bool = True) -> list[str]:
    """Render a :func:`transition_table` as plain text lines: a summary line, then one
    line per cell (changed cells only unless ``changed_only`` is False), e.g.
    ``Grow online revenue -> Unaligned: 2 items, 13 effort (SHOP-7, SHOP-9)``."""
    names = objective_names(objectives)
    moved = table[table["changed"]]
    total = int(table["items"].sum())
    if moved.empty:
        lines = [f"No item changes objective ({total} items compared)."]
    else:
        lines = [f"{int(moved['items'].sum())} of {total} items change objective; "
                 f"{format_effort(moved['effort'].sum())} effort moves."]
    shown = moved if changed_only else table
    for before, after, items, effort, keys in zip(shown["before"], shown["after"],
                                                  shown["items"], shown["effort"],
                                                  shown["examples"]):
        noun = "item" if items == 1 else "items"
        lines.append(f"{display_name(names, before)} -> {display_name(names, after)}: "
                     f"{items} {noun}, {format_effort(effort)} effort ({', '.join(keys)})")
    return lines
