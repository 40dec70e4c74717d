"""The declared objectives as the tables need them: names, stated priority, order."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Objective

__all__ = ["display_name", "names_of", "objective_names", "objective_order", "priority_shares"]


def objective_names(objectives: Sequence[Objective]) -> dict[str, str]:
    """Objective id -> display name, ``unaligned`` included."""
    return {**{o.id: o.name for o in objectives}, UNALIGNED: UNALIGNED_NAME}


def priority_shares(objectives: Sequence[Objective]) -> dict[str, float]:
    """Stated priority per objective id: its weight / the sum of all weights."""
    total = sum(o.weight for o in objectives)
    return {o.id: (o.weight / total if total else 0.0) for o in objectives}


def objective_order(objectives: Sequence[Objective], present: Iterable[str]) -> list[str]:
    """Row order of every objective table: the declared objectives in declared order,
    then ids found only in the data (retired objectives) sorted, then ``unaligned``."""
    declared = [o.id for o in objectives]
    known = set(declared) | {UNALIGNED}
    extra = sorted({oid for oid in present if oid not in known})
    return [*declared, *extra, UNALIGNED]


def display_name(names: Mapping[str, str], objective_id: str) -> str:
    """The name of ``objective_id``, or the id itself for an undeclared objective."""
    return names.get(objective_id, objective_id)


def names_of(ids: pd.Series, objectives: Sequence[Objective]) -> pd.Series:
    """The display name of each objective id in ``ids`` (the id for undeclared ones)."""
    plain = ids.astype("str")
    return plain.map(objective_names(objectives)).fillna(plain)
