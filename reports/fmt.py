"""Numbers as people read them: percentages and effort with no needless decimals."""
from __future__ import annotations

import math

import pandas as pd

__all__ = ["MISSING", "format_date", "format_effort", "format_pct", "format_pp", "format_score"]

#: Shown where a number does not exist (no survey answer, a rule that never fired).
MISSING = "–"


def _absent(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _trim(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_pct(share: float | None) -> str:
    """A 0..1 share as a percentage with at most one decimal: 0.35 -> "35%",
    0.125 -> "12.5%", 1/3 -> "33.3%", 0.0004 -> "<0.1%"."""
    if _absent(share):
        return MISSING
    value = float(share) * 100  # type: ignore[arg-type]
    if 0 < abs(value) < 0.05:
        return "<0.1%" if value > 0 else ">-0.1%"
    return f"{_trim(round(value, 1), 1)}%"


def format_pp(delta: float | None) -> str:
    """A difference of two shares in percentage points, signed: 0.23 -> "+23 pp"."""
    if _absent(delta):
        return MISSING
    value = round(float(delta) * 100, 1)  # type: ignore[arg-type]
    if value == 0:
        return "0 pp"
    return f"{'+' if value > 0 else '−'}{_trim(abs(value), 1)} pp"


def format_effort(effort: float | None) -> str:
    """Effort (hours or points): 1234.5 -> "1,235", 12.25 -> "12.3", 3.0 -> "3"."""
    if _absent(effort):
        return MISSING
    value = float(effort)  # type: ignore[arg-type]
    return _trim(value, 0 if abs(value) >= 100 else 1)


def format_score(score: float | None) -> str:
    """A 0..100 score or mean score with at most one decimal."""
    if _absent(score):
        return MISSING
    return _trim(float(score), 1)  # type: ignore[arg-type]


def format_date(stamp: pd.Timestamp | None) -> str:
    """A date as "1 Mar 2026"."""
    if stamp is None or pd.isna(stamp):
        return MISSING
    return f"{stamp.day} {stamp:%b %Y}"
