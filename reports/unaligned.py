"""Unaligned work: assessed items that serve no declared objective."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from itsm_align.scoring.types import UNALIGNED

from .estate import current_estate
from .frame import Period

__all__ = ["UnalignedShare", "largest_unaligned", "unaligned_share"]

#: Columns of :func:`largest_unaligned`.
ITEM_COLUMNS = ["platform", "item_key", "summary", "effort", "project", "team", "type",
                "score", "url"]


@dataclass(frozen=True, slots=True)
class UnalignedShare:
    """Unaligned items and effort against the whole current estate (unknown effort = 1)."""

    items: int
    total_items: int
    effort: float
    total_effort: float

    @property
    def item_share(self) -> float:
        """Unaligned items / all items (0 for an empty estate)."""
        return self.items / self.total_items if self.total_items else 0.0

    @property
    def effort_share(self) -> float:
        """Unaligned effort / all effort (0 for an empty estate)."""
        return self.effort / self.total_effort if self.total_effort else 0.0


def unaligned_share(history: pd.DataFrame, *, period: Period | None = None) -> UnalignedShare:
    """How much of the current estate is unaligned, by items and by effort."""
    estate = current_estate(history, period=period)
    unaligned = (estate["objective"] == UNALIGNED).to_numpy()
    weight = estate["weight"].to_numpy()
    return UnalignedShare(items=int(unaligned.sum()), total_items=len(estate),
                          effort=float(weight[unaligned].sum()), total_effort=float(weight.sum()))


def largest_unaligned(history: pd.DataFrame, *, period: Period | None = None,
                      top: int = 10) -> pd.DataFrame:
    """The ``top`` largest unaligned items of the current estate.

    Ordered by counted effort (unknown effort counts 1), largest first, then by key.
    ``effort`` shows the recorded effort (missing when unknown).
    """
    estate = current_estate(history, period=period)
    unaligned = estate[(estate["objective"] == UNALIGNED).to_numpy()]
    ordered = unaligned.sort_values(["weight", "item_key", "platform"],
                                    ascending=[False, True, True], kind="stable")
    return ordered.head(top)[ITEM_COLUMNS].reset_index(drop=True)
