"""The dashboard's filters, as they travel in the URL (so every view can be bookmarked,
shared and reproduced): ``objective``, ``project``, ``team``, ``type`` (each may repeat),
``since`` and ``until`` (dates, both inclusive), and for drill-downs also ``nature``,
``score`` (``LOW-HIGH``) and ``unaligned``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Iterable, Mapping, Sequence
from urllib.parse import urlencode

import numpy as np
import pandas as pd

__all__ = ["DIMENSIONS", "FilterError", "Filters", "PRESETS"]

#: The estate columns a filter can select on, with their URL parameter.
DIMENSIONS = (("objective", "objective"), ("project", "project"), ("team", "team"), ("type", "type"))
#: Quick period choices: label -> days back from today (None: everything).
PRESETS = (("Last 30 days", 30), ("Last quarter", 91), ("Last 12 months", 365), ("All time", None))
NATURES = ("proactive", "reactive")


class FilterError(ValueError):
    """A filter value in the URL cannot be understood (the message says which and why)."""


def _date(text: str, name: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise FilterError(f"{name}={text!r} is not a date: write it as YYYY-MM-DD") from error


@dataclass(frozen=True)
class Filters:
    objective: tuple[str, ...] = ()
    project: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None  # inclusive: the whole day counts
    nature: tuple[str, ...] = ()
    score: tuple[int, int] | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str] | object) -> "Filters":
        """Filters from request arguments (a werkzeug MultiDict or a plain mapping)."""
        getlist = getattr(args, "getlist", None)

        def values(name: str) -> tuple[str, ...]:
            raw = getlist(name) if getlist else ([args[name]] if name in args else [])  # type: ignore[operator]
            return tuple(dict.fromkeys(v.strip() for v in raw if v and v.strip()))

        def one(name: str) -> str:
            found = values(name)
            return found[0] if found else ""

        nature = values("nature")
        unknown = [n for n in nature if n not in NATURES]
        if unknown:
            raise FilterError(f"nature={unknown[0]!r}: choose proactive or reactive")
        score = None
        if one("score"):
            low, _, high = one("score").partition("-")
            try:
                score = (int(low), int(high or low))
            except ValueError as error:
                raise FilterError(f"score={one('score')!r}: write a range such as 0-39") from error
        objective = values("objective")
        if one("unaligned") in ("1", "true", "yes"):
            objective = ("unaligned",)
        since, until = _date(one("since"), "since"), _date(one("until"), "until")
        if since and until and until < since:
            raise FilterError(f"until ({until}) is before since ({since}): swap them")
        return cls(objective=objective, project=values("project"), team=values("team"), type=values("type"),
                   since=since, until=until, nature=nature, score=score)

    # -------------------------------------------------------------- use
    @property
    def period(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
        """As the reports take it: since inclusive, until exclusive (the day after)."""
        if self.since is None and self.until is None:
            return None
        return (pd.Timestamp(self.since, tz="UTC") if self.since else None,
                pd.Timestamp(self.until + timedelta(days=1), tz="UTC") if self.until else None)

    @property
    def until_exclusive(self) -> date | None:
        return self.until + timedelta(days=1) if self.until else None

    @property
    def selects(self) -> bool:
        """Any filter besides the period?"""
        return bool(self.objective or self.project or self.team or self.type or self.nature or self.score)

    def mask(self, frame: pd.DataFrame, *, with_drill: bool = False) -> np.ndarray:
        """Rows of ``frame`` (an estate or bucket rows) that match."""
        keep = np.ones(len(frame), dtype=bool)
        for name, _ in DIMENSIONS:
            wanted = getattr(self, name)
            if wanted:
                keep &= frame[name].isin(list(wanted)).to_numpy()
        if with_drill:
            if self.nature:
                keep &= frame["nature"].isin(list(self.nature)).to_numpy()
            if self.score is not None:
                scores = frame["score"].to_numpy()
                keep &= (scores >= self.score[0]) & (scores <= self.score[1])
        return keep

    def page_filters(self) -> "Filters":
        """The filters the main page applies (no drill-only ones)."""
        return replace(self, nature=(), score=None)

    def key(self) -> tuple:
        return (self.objective, self.project, self.team, self.type, self.since, self.until, self.nature,
                self.score)

    def pairs(self) -> list[tuple[str, str]]:
        """URL parameters, in a stable order."""
        out: list[tuple[str, str]] = []
        for name, param in DIMENSIONS:
            out += [(param, v) for v in getattr(self, name)]
        if self.since:
            out.append(("since", self.since.isoformat()))
        if self.until:
            out.append(("until", self.until.isoformat()))
        out += [("nature", n) for n in self.nature]
        if self.score is not None:
            out.append(("score", f"{self.score[0]}-{self.score[1]}"))
        return out

    def query(self, **changes: object) -> str:
        """The URL query of these filters with ``changes`` (a value of None drops it)."""
        filters = self.with_(**changes) if changes else self
        return urlencode(filters.pairs())

    def with_(self, **changes: object) -> "Filters":
        fixed: dict[str, object] = {}
        for name, value in changes.items():
            if name in ("objective", "project", "team", "type", "nature"):
                fixed[name] = () if value is None else ((value,) if isinstance(value, str) else tuple(value))  # type: ignore[arg-type]
            else:
                fixed[name] = value
        return replace(self, **fixed)  # type: ignore[arg-type]

    def preset(self, days: int | None, today: date) -> "Filters":
        return replace(self, since=None if days is None else today - timedelta(days=days), until=None)

    def describe(self, names: Mapping[str, str]) -> list[tuple[str, str]]:
        """(what, value) of each active filter, for people."""
        out = []
        for name, label in (("objective", "Objective"), ("project", "Project"), ("team", "Team"),
                            ("type", "Type"), ("nature", "Work nature")):
            values: Sequence[str] = getattr(self, name)
            if values:
                shown = [names.get(v, v) if name == "objective" else v for v in values]
                out.append((label, ", ".join(shown)))
        if self.score is not None:
            out.append(("Score", f"{self.score[0]}–{self.score[1]}"))
        return out


def choices(frame: pd.DataFrame, column: str) -> list[str]:
    """The values a filter offers: every value of the column, sorted."""
    values: Iterable[object] = frame[column].cat.categories if isinstance(
        frame[column].dtype, pd.CategoricalDtype) else frame[column].dropna().unique()
    return sorted(str(v) for v in values)
