"""Write the report to a folder: ``report.html`` and one CSV per table."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from itsm_align.scoring.types import Objective

from .frame import Period, TimeLike
from .html import render_html
from .report import DEFAULT_TITLE, Report, build_report
from .trend import Freq

__all__ = ["write_built_report", "write_report"]

#: Columns holding tuples of item keys; written to CSV as ", "-joined text.
_TUPLE_COLUMNS = ("override_examples", "examples")


def _csv_ready(table: pd.DataFrame) -> pd.DataFrame:
    tuples = [c for c in _TUPLE_COLUMNS if c in table.columns]
    if not tuples:
        return table
    return table.assign(**{c: table[c].map(", ".join) for c in tuples})


def write_report(out_dir: str | Path, history: pd.DataFrame, objectives: Sequence[Objective],
                 rule_objectives: Mapping[str, str | None],
                 survey: pd.DataFrame | None = None, *, period: Period | None = None,
                 freq: Freq = "month", now: TimeLike = None, top: int = 20,
                 title: str = DEFAULT_TITLE, effort: str = "effort") -> list[Path]:
    """Build the report and write ``report.html`` plus one UTF-8 CSV per table
    (``effort_vs_priority.csv``, ``unaligned_items.csv``, ``scores_by_objective.csv``,
    ``nature_trend.csv``, ``rule_quality.csv``, ``survey.csv`` when there was a survey,
    ...; see :meth:`.report.Report.tables`) into ``out_dir`` (created if needed).
    Returns the written paths, ``report.html`` first. To write a report already
    built, use :func:`write_built_report`."""
    report = build_report(history, objectives, rule_objectives, survey, period=period,
                          freq=freq, now=now, top=top, title=title, effort=effort)
    return write_built_report(out_dir, report)


def write_built_report(out_dir: str | Path, report: Report) -> list[Path]:
    """Write a :class:`.report.Report` as ``report.html`` and one CSV per table into
    ``out_dir`` (created if needed); returns the paths, ``report.html`` first."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    paths = [page]
    for stem, table in report.tables().items():
        path = folder / f"{stem}.csv"
        _csv_ready(table).to_csv(path, index=False, encoding="utf-8")
        paths.append(path)
    return paths
