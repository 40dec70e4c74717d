"""The assessment history as every report function expects it: :func:`normalise_history`.

One row per assessment; an item re-assessed later has several rows. The normaliser
fills the optional columns older data lacks, gives each column one dtype, adds three
derived columns and sorts the rows, so that the KPI modules can find "the latest
assessment per item" with one vectorised comparison instead of a groupby.

Derived columns:

``item``
    int64 code of ``(platform, item_key)``. Codes are only meaningful inside the frame
    that :func:`normalise_history` returned: filter that frame with masks, but do not
    concatenate two normalised frames (normalise the concatenated raw frames instead).
``weight``
    The effort the item counts with: ``effort`` when it is known and positive, otherwise
    :data:`DEFAULT_EFFORT` (the same rule as the scoring rollup).
``effort_known``
    ``effort`` is known and positive. Items without it are reported as "no effort".

Which effort: ``normalise_history(frame, effort=...)`` picks the measure (see
:data:`EFFORT_MEASURES`): ``"effort"`` (default) is what the history recorded (the Jira
adapter's ``jira.effort_field``: original estimate in hours or story points; ServiceNow
``time_worked`` in hours); ``"story_points"``, ``"time_spent"`` and ``"time_worked"`` read
the column of that name, which scored platform exports carry; ``"count"`` counts every
item as 1 (then no item lacks effort).

Rows are sorted by ``item`` then ``assessed_at`` (stable: of two assessments of one
item at the same instant, the later row of the input is the later assessment).
Boolean-mask filtering keeps that order, which is all :mod:`.estate` and :mod:`.trend`
rely on.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_EFFORT", "EFFORT_MEASURES", "HISTORY_COLUMNS", "Period", "TimeLike",
    "normalise_history", "period_bounds", "period_mask", "require_history",
]

#: Effort an item counts with when its effort is unknown or not positive.
DEFAULT_EFFORT = 1.0
#: Effort measures a report can count with, and what each means (see the module docstring).
EFFORT_MEASURES: dict[str, str] = {
    "effort": "recorded effort (hours or story points, as the history recorded it)",
    "story_points": "story points",
    "time_spent": "time spent (hours)",
    "time_worked": "time worked (hours)",
    "count": "item count (every item counts 1)",
}

TimeLike: TypeAlias = datetime | pd.Timestamp | str | None
#: ``(since, until)``: ``since`` inclusive, ``until`` exclusive, either may be ``None``
#: (open). Naive times and date strings are taken as UTC, so ``("2026-01-01",
#: "2026-04-01")`` is the first quarter of 2026.
Period: TypeAlias = tuple[TimeLike, TimeLike]

_REQUIRED = ("item_key", "objective", "score", "nature")
#: Columns stored as categoricals (few distinct values, grouped on by the KPIs).
_CATEGORICAL = {"platform": "file", "kind": "ticket", "project": None, "type": None,
                "objective": None, "nature": None, "team": None}
#: Free-text columns; filled with missing values (or "") when absent.
_TEXT = {"rationale": "", "ruleset_version": "", "parent": None, "summary": None, "url": None}
_LISTS = ("rule_ids", "errors")
_FLAGS = ("overridden", "deleted")
_ALLOWED = {"kind": {"ticket", "project"}, "nature": {"proactive", "reactive"}}

#: The columns of a normalised history, in order (contract columns, then derived ones).
HISTORY_COLUMNS = (
    "platform", "item_key", "kind", "project", "type", "objective", "score", "nature",
    "rationale", "overridden", "ruleset_version", "rule_ids", "errors", "effort", "parent",
    "deleted", "assessed_at", "team", "summary", "url", "item", "weight", "effort_known",
)


def normalise_history(frame: pd.DataFrame, *, now: TimeLike = None,
                      effort: str = "effort") -> pd.DataFrame:
    """Return the assessment history in the shape every report function expects.

    Accepts the history store's frame and the frame built from scored ticket files (the
    same columns, but ``assessed_at`` may be absent or empty: such rows are dated
    ``now``, default the current time). ``item_key``, ``objective``, ``score`` and
    ``nature`` are required; every other contract column is filled when absent
    (``platform`` "file", ``kind`` "ticket", ``team``/``summary``/``url``/... missing,
    ``rule_ids``/``errors`` empty, ``overridden``/``deleted`` False). Columns outside
    the contract are dropped. Raises ``ValueError`` naming the problem when a required
    column is missing, an ``item_key`` is empty, or ``kind``/``nature`` hold an unknown
    value.

    ``effort`` names the measure the ``effort`` column is taken from (one of
    :data:`EFFORT_MEASURES`); ``ValueError`` when the frame lacks that column.

    Categorical columns: platform, kind, project, type, objective, nature, team. The
    values in ``rule_ids`` and ``errors`` are left untouched (never converted row by
    row): lists, JSON text or comma-separated text (see :func:`.rules.rule_lists`).
    """
    missing = [name for name in _REQUIRED if name not in frame.columns]
    if missing:
        raise ValueError(f"assessment history lacks required column(s): {', '.join(missing)}")
    if effort not in EFFORT_MEASURES:
        raise ValueError(f"unknown effort measure {effort!r}; choose one of "
                         f"{', '.join(EFFORT_MEASURES)}")
    if effort not in ("effort", "count"):
        if effort not in frame.columns:
            raise ValueError(
                f"the assessments have no {effort!r} column, so effort cannot be counted in "
                f"{EFFORT_MEASURES[effort]}: the stored history records one effort per item "
                "(use effort 'effort' or 'count'); a scored platform export has it when the "
                "export had the matching column")
        frame = frame.assign(effort=frame[effort])
    n = len(frame)
    index = pd.RangeIndex(n)
    source = frame.reset_index(drop=True)
    columns: dict[str, Any] = {}
    for name, default in _CATEGORICAL.items():
        columns[name] = _categorical(source, name, default, n)
    for name, allowed in _ALLOWED.items():
        unknown = set(columns[name].cat.categories) - allowed
        if unknown:
            raise ValueError(f"column {name!r} holds unknown value(s) {sorted(map(str, unknown))}; "
                             f"allowed: {', '.join(sorted(allowed))}")
    if source["item_key"].isna().any():
        raise ValueError("column 'item_key' has empty values; every assessment names its item")
    columns["item_key"] = source["item_key"]
    columns["score"] = pd.to_numeric(source["score"]).astype("float64")
    columns["effort"] = (pd.to_numeric(source["effort"], errors="coerce").astype("float64")
                         if "effort" in source else pd.Series(np.nan, index=index))
    for name, default in _TEXT.items():
        columns[name] = source[name] if name in source else pd.Series(default, index=index,
                                                                      dtype="str")
    for name in _LISTS:
        columns[name] = source[name] if name in source else pd.Series([()] * n, index=index,
                                                                      dtype=object)
    for name in _FLAGS:
        columns[name] = (source[name].astype("boolean").fillna(False).astype(bool)
                         if name in source else pd.Series(False, index=index))
    columns["assessed_at"] = _assessed_at(source, _utc(now) if now is not None else
                                          pd.Timestamp.now(tz="UTC"), index)

    platform_codes = columns["platform"].cat.codes.to_numpy().astype(np.int64)
    key_codes, _ = pd.factorize(columns["item_key"])  # Arrow strings factorise in C
    item = key_codes.astype(np.int64) * (len(columns["platform"].cat.categories) + 1) + platform_codes
    recorded = columns["effort"].to_numpy()
    known = (np.ones(n, dtype=bool) if effort == "count"
             else np.isfinite(recorded) & (recorded > 0))
    columns["item"] = item
    columns["weight"] = (np.full(n, DEFAULT_EFFORT) if effort == "count"
                         else np.where(known, recorded, DEFAULT_EFFORT))
    columns["effort_known"] = known

    history = pd.DataFrame(columns, index=index)[list(HISTORY_COLUMNS)]
    order = np.lexsort((columns["assessed_at"].array.asi8, item))
    return history.take(order).reset_index(drop=True)


def require_history(frame: pd.DataFrame) -> None:
    """Raise ``TypeError`` unless ``frame`` came from :func:`normalise_history`."""
    if "item" not in frame.columns or "weight" not in frame.columns:
        raise TypeError("expected an assessment history from normalise_history(); "
                        "pass the raw frame through it first")


def period_bounds(period: Period | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``period`` as two UTC timestamps (``None`` for an open end)."""
    if period is None:
        return None, None
    since, until = period
    return (_utc(since) if since is not None else None,
            _utc(until) if until is not None else None)


def period_mask(history: pd.DataFrame, period: Period | None) -> np.ndarray:
    """Boolean mask of the rows of ``history`` assessed within ``period``
    (since <= assessed_at < until)."""
    since, until = period_bounds(period)
    keep = np.ones(len(history), dtype=bool)
    if since is None and until is None:
        return keep
    nanos = history["assessed_at"].array.asi8
    if since is not None:
        keep &= nanos >= since.value
    if until is not None:
        keep &= nanos < until.value
    return keep


def _utc(value: TimeLike) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _categorical(source: pd.DataFrame, name: str, default: str | None, n: int) -> pd.Series:
    if name not in source:
        if default is None:
            return pd.Series(pd.Categorical.from_codes(np.full(n, -1), pd.Index([], dtype="str")))
        return pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [default]))
    column = source[name]
    if not isinstance(column.dtype, pd.CategoricalDtype):
        # factorising is about twice as fast as astype("category")
        codes, uniques = pd.factorize(column, sort=True)
        column = pd.Series(pd.Categorical.from_codes(codes, pd.Index(uniques, dtype="str")))
    if default is not None and column.isna().any():
        if default not in column.cat.categories:
            column = column.cat.add_categories([default])
        column = column.fillna(default)
    return column


def _assessed_at(source: pd.DataFrame, now: pd.Timestamp, index: pd.RangeIndex) -> pd.Series:
    if "assessed_at" not in source:
        return pd.Series(now, index=index).dt.as_unit("ns")
    column = source["assessed_at"]
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column):
        stamps = pd.to_datetime(column, utc=True)
    else:
        stamps = pd.to_datetime(column, utc=True, format="ISO8601")
    return stamps.fillna(now).dt.as_unit("ns")
