"""Grouping an estate by one of its dimensions, with missing values as a visible group."""
from __future__ import annotations

from typing import Literal, TypeAlias

import pandas as pd

__all__ = ["DIMENSIONS", "Dimension", "NO_VALUE", "group_keys"]

Dimension: TypeAlias = Literal["objective", "project", "team", "type"]
DIMENSIONS: tuple[Dimension, ...] = ("objective", "project", "team", "type")
#: Group label of items without a value (no project, no team, no type).
NO_VALUE = "(none)"


def group_keys(estate: pd.DataFrame, by: Dimension) -> pd.Series:
    """The ``by`` column of ``estate`` as a categorical with missing values labelled
    :data:`NO_VALUE`, ready for ``groupby(..., observed=True)``."""
    if by not in DIMENSIONS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(DIMENSIONS)}")
    keys = estate[by]
    if not keys.isna().any():
        return keys
    if NO_VALUE not in keys.cat.categories:
        keys = keys.cat.add_categories([NO_VALUE])
    return keys.fillna(NO_VALUE)
