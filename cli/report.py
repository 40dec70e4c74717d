"""``itsm-align report``: the offline HTML report and its CSV tables.

Reads the assessment history from ``service.database_url`` (or a file written by
``itsm-align score --output``), computes every KPI with ``itsm_align.reports`` and
writes ``report.html`` (one self-contained page) plus one CSV per table.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import click
import pandas as pd
from rich.text import Text

from itsm_align.reports import (
    EFFORT_MEASURES, build_report, format_pct, write_built_report,
)
from itsm_align.scoring.types import Objective

from .common import config_option, fail, load_or_exit, out_console
from .config import AppConfig

__all__ = ["parse_day", "read_scored_file", "report", "report_inputs"]

#: Columns of a ``score --output`` file -> history columns.
_RENAMES = {"key": "item_key", "matched_rules": "rule_ids"}


def report_inputs(config: AppConfig) -> tuple[list[Objective], dict[str, str | None]]:
    """The objectives and, per enabled rule, the objective it is evidence for
    (None for inheritance rules), as ``itsm_align.reports`` takes them."""
    objectives = [spec.to_objective() for spec in config.objectives]
    return objectives, {rule.id: rule.objective for rule in config.rules if rule.enabled}


def parse_day(value: str | None, option: str) -> datetime | None:
    """``2026-01-01`` or a full ISO time (UTC unless it says otherwise), or exit 2."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} {value!r} is not a date", [f"Write it as YYYY-MM-DD, e.g. {option} "
                                                    "2026-01-01 (or an ISO 8601 time)."])
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_scored_file(path: Path) -> pd.DataFrame:
    """The results ``itsm-align score --output`` wrote (CSV or JSON) as an assessment
    history frame; exit 2 naming the problem when the file is not one."""
    fmt = path.suffix.lower().lstrip(".")
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, dtype={"key": "str", "project": "str", "team": "str",
                                             "parent": "str", "matched_rules": "str"},
                                keep_default_na=False, na_values=[""])
        elif fmt in ("json", "jsonl"):
            text = path.read_text(encoding="utf-8-sig")
            data: Any = (json.loads(text) if fmt == "json" else
                         [json.loads(line) for line in text.splitlines() if line.strip()])
            if not isinstance(data, list):
                raise ValueError("a scored JSON file holds a list of result objects")
            frame = pd.DataFrame.from_records(data)
        else:
            fail(f"Cannot read {path}", ["Pass the .csv or .json file that "
                                         "`itsm-align score ... --output` wrote."])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        fail(f"Cannot read {path}", [f"{exc}"])
    missing = [c for c in ("key", "objective", "score", "nature") if c not in frame.columns]
    if missing:
        fail(f"{path} is not a scored ticket file: no column(s) {', '.join(missing)}",
             ["Score the tickets first: itsm-align score TICKETS --output scored.csv "
              "--config C, then pass scored.csv to --from-file."])
    frame = frame.rename(columns=_RENAMES)
    for flag in ("overridden", "deleted"):
        if flag in frame.columns and frame[flag].dtype == object:
            frame[flag] = frame[flag].map({"True": True, "False": False, True: True,
                                           False: False}).fillna(False).astype(bool)
    if "assessed_at" in frame.columns:
        frame["assessed_at"] = pd.to_datetime(frame["assessed_at"], utc=True, format="ISO8601")
    return frame


@click.command()
@config_option
@click.option("--since", default=None, metavar="DATE",
              help="First day of the period (by each assessment's assessed_at), e.g. 2026-01-01.")
@click.option("--until", default=None, metavar="DATE",
              help="Day after the period (exclusive), e.g. 2026-04-01 for the first quarter.")
@click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path), default=None,
              help="Report over a file `itsm-align score --output` wrote instead of the history.")
@click.option("--effort", type=click.Choice(list(EFFORT_MEASURES)), default="effort",
              show_default=True,
              help="What effort counts: the recorded effort, story points, time spent, "
                   "ServiceNow time worked (the last three from scored exports) or count.")
@click.option("--freq", type=click.Choice(["month", "week"]), default="month", show_default=True,
              help="Trend buckets.")
@click.option("--survey", "survey_file", type=click.Path(exists=True, dir_okay=False,
                                                         path_type=Path), default=None,
              help="Survey responses as CSV (round, respondent, department, objective, "
                   "importance, satisfaction, comment) to compare with. Default: the answers "
                   "stored in the service database (survey form and `survey import`).")
@click.option("--top", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many of the largest unaligned items to list.")
@click.option("--title", default=None, help="Title of the report page.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder for report.html and the CSV files (created).")
def report(config_path: Path | None, since: str | None, until: str | None,
           from_file: Path | None, effort: str, freq: str, survey_file: Path | None, top: int,
           title: str | None, out_dir: Path) -> None:
    """Write the alignment report: report.html (one self-contained page, opens
    offline) and one CSV per table, for the period --since..--until (by the
    time each assessment was made).

    Example: itsm-align report --config itsm-align.yaml --since 2026-07-01 --out report/"""
    config = load_or_exit(config_path)
    start, end = parse_day(since, "--since"), parse_day(until, "--until")
    if start is not None and end is not None and start >= end:
        fail("--since must be before --until", [f"got --since {since} --until {until}"])
    if from_file is not None:
        history = read_scored_file(from_file)
    else:
        history = _read_history(config, start, end)
    if survey_file is not None:
        survey = _read_survey(survey_file)
    elif from_file is None:
        survey = _stored_survey(config)
    else:
        survey = None
    objectives, rule_objectives = report_inputs(config)
    try:
        built = build_report(history, objectives, rule_objectives, survey,
                             period=(start, end), freq=freq, top=top, effort=effort,  # type: ignore[arg-type]
                             **({"title": title} if title else {}))
    except ValueError as exc:
        fail("Cannot build the report", [str(exc)])
    paths = write_built_report(out_dir, built)
    _print_summary(built, paths)


def _read_history(config: AppConfig, start: datetime | None, end: datetime | None
                  ) -> pd.DataFrame:
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.history import History

    url = config.service.database_url
    try:
        engine = create_db_engine(url, create_tables=False)
        return History(engine).report_frame(since=start, until=end)
    except Exception as exc:  # the database's own message says what is wrong
        fail(f"Cannot read the assessment history from service.database_url",
             [f"{type(exc).__name__}: {exc}",
              "Check service.database_url in the config, or report over a scored file "
              "with --from-file."])


def _stored_survey(config: AppConfig) -> pd.DataFrame | None:
    """The answers the survey form and `survey import` stored (None: none yet)."""
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.surveys import Surveys

    frame = Surveys(create_db_engine(config.service.database_url)).frame()
    return frame if len(frame) else None


def _read_survey(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype="str", keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        fail(f"Cannot read the survey {path}", [str(exc)])


def _print_summary(built: Any, paths: Sequence[Path]) -> None:
    out = out_console()
    estate = built.estate
    out.print(Text(f"Wrote {paths[0]} and {len(paths) - 1} CSV files to {paths[0].parent}"))
    out.print(Text(f"{estate.items:,} items; effort counted as {built.effort_label}; "
                   f"unaligned {format_pct(built.unaligned.effort_share)} of effort, "
                   f"{format_pct(built.unaligned.item_share)} of items"))
    if estate.unknown_effort_items and built.effort_measure != "count":
        out.print(Text(f"{estate.unknown_effort_items:,} item(s) had no effort recorded and "
                       "count as 1."))
    for line in built.alignment["headline"]:
        out.print(Text(f"  {line}"))
