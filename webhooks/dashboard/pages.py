"""What each dashboard page shows, computed with the reports package from a snapshot.

Estate KPIs take the current estate of the period (reports.estate) with the filters
applied to it, so an item counts with its latest assessment even if an older one
matched the filter. Trends take the rows each bucket counts (reports.trend) with the
same filters applied to those rows. Every number carries the drill-down URL that lists
the items behind it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from itsm_align.reports import (
    drill_down, effort_vs_priority, effort_vs_priority_chart, estate_summary, figure_json,
    format_effort, format_pct, format_pp, largest_unaligned, nature_split, nature_trend,
    nature_trend_chart, score_histogram, score_histogram_chart, survey_comments,
    survey_gap_chart, survey_table, trend, trend_chart, unaligned_chart, unaligned_share,
)
from itsm_align.reports import rule_quality
from itsm_align.reports.groups import group_keys
from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Objective

from .data import Snapshot
from .filters import Filters
from .links import Criteria, NativeFilter, PlatformLinks, native_filters

__all__ = ["CHARTS", "Chart", "Drill", "Overview", "admin_rules", "drill", "overview", "overview_charts"]

#: Items listed on a drill-down page (the CSV has all of them).
DRILL_ROWS = 500
#: Groups listed per breakdown table.
GROUP_ROWS = 12
SHARE_GAP = 0.10


@dataclass
class Chart:
    id: str
    figure: str  # plotly JSON
    drill: list[str] = field(default_factory=list)  # URL per point index ("" none)

    @property
    def drill_json(self) -> str:
        return json.dumps(self.drill)


@dataclass
class Tile:
    value: str
    label: str
    href: str | None = None
    tone: str = ""


@dataclass
class Overview:
    empty: bool
    tiles: list[Tile]
    headlines: list[dict[str, Any]]
    alignment: list[dict[str, Any]]
    surveyed: bool
    chart_inputs: dict[str, Any]  # what overview_charts draws, computed with the numbers
    breakdowns: list[tuple[str, str, list[dict[str, Any]], int]]
    unaligned_items: list[dict[str, Any]]
    survey_round: str | None
    survey_rounds: list[str]
    survey_rows: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    unknown_effort: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None


def names_of(objectives: Sequence[Objective]) -> dict[str, str]:
    return {**{o.id: o.name for o in objectives}, UNALIGNED: UNALIGNED_NAME}


def filtered_estate(snapshot: Snapshot, filters: Filters, *, drill_filters: bool = False) -> pd.DataFrame:
    estate = snapshot.estate(filters.period)
    if not (filters.selects):
        return estate
    return estate[filters.mask(estate, with_drill=drill_filters)]


def _bucket_history(snapshot: Snapshot, filters: Filters, freq: str) -> pd.DataFrame:
    counted = snapshot.bucket_frame(filters.period, freq)
    if filters.selects:
        counted = counted[filters.mask(counted)]
    return counted


def _drill(filters: Filters, **changes: object) -> str:
    return "items?" + filters.query(**changes)


def _survey(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None or frame.empty:
        return None
    return frame


def overview(snapshot: Snapshot, filters: Filters, objectives: Sequence[Objective],
             survey: pd.DataFrame | None, *, freq: str = "month", survey_round: str | None = None) -> Overview:
    """The main page: headline tiles, effort vs priority, unaligned work, scores,
    proactive vs reactive trend, breakdowns, survey results (of ``survey_round``,
    default the latest round)."""
    filters = filters.page_filters()
    names = names_of(objectives)
    estate = filtered_estate(snapshot, filters)
    survey = _survey(survey)
    summary = estate_summary(estate)
    share = unaligned_share(estate)
    nature = nature_split(estate)
    reactive = float(nature["reactive_effort_share"].iat[0]) if len(nature) else 0.0
    proactive = float(nature["proactive_effort_share"].iat[0]) if len(nature) else 0.0
    mean_score = float(estate["score"].mean()) if len(estate) else float("nan")
    tiles = [
        Tile(f"{summary.items:,}", "items in the period", _drill(filters)),
        Tile(format_effort(summary.effort), "effort (hours or points)", _drill(filters)),
        Tile(format_pct(share.effort_share), f"of effort unaligned ({share.items:,} items)",
             _drill(filters, objective=UNALIGNED), "warn" if share.effort_share > 0.2 else ""),
        Tile(format_pct(proactive), "of effort proactive", _drill(filters, nature="proactive"), "good"),
        Tile(format_pct(reactive), "of effort reactive", _drill(filters, nature="reactive"),
             "warn" if reactive > 0.5 else ""),
        Tile("–" if np.isnan(mean_score) else f"{mean_score:.0f}", "mean alignment score (0–100)",
             _drill(filters)),
    ]

    alignment = effort_vs_priority(estate, objectives, survey, survey_round=(
        survey_round if survey is not None and survey_round in set(survey["round"]) else None))
    surveyed = "importance_share" in alignment.columns
    rows = []
    for row in alignment.to_dict("records"):
        rows.append({**row, "href": _drill(filters, objective=row["objective"]),
                     "priority": format_pct(row["priority_share"]), "effort_pct": format_pct(row["effort_share"]),
                     "gap_pp": format_pp(row["gap"]), "effort_text": format_effort(row["effort"]),
                     "gap_class": ("over" if row["gap"] > SHARE_GAP else "under" if row["gap"] < -SHARE_GAP
                                   else "even"),
                     "importance": format_pct(row.get("importance_share")) if surveyed else ""})
    declared = [r for r in rows if r["objective"] != UNALIGNED and (r["weight"] or r["items"])]
    headlines = sorted(declared, key=lambda r: -abs(r["gap"]))[:5]

    inputs: dict[str, Any] = {"filters": filters, "freq": freq}
    if summary.items:
        inputs.update(alignment=alignment, share=share, histogram=score_histogram(estate))
    buckets = _bucket_history(snapshot, filters, freq)
    if len(buckets):
        inputs.update(natures=nature_trend(buckets, freq=freq),  # type: ignore[arg-type]
                      trend=trend(buckets, freq=freq))  # type: ignore[arg-type]

    breakdowns = []
    for by, title in (("project", "By project"), ("team", "By team"), ("type", "By type")):
        table, total = _breakdown(estate, by, filters)
        breakdowns.append((by, title, table, total))

    unaligned_items = [
        {**row, "effort_text": format_effort(row["effort"]), "score_text": _score(row["score"])}
        for row in largest_unaligned(estate, top=8).to_dict("records")]

    survey_rows, comments, rounds = [], [], []
    if survey is not None:
        table = survey_table(survey, objectives, estate)
        rounds = sorted(table["round"].astype(str).unique())
        survey_round = survey_round if survey_round in rounds else rounds[-1]
        latest = table[table["round"] == survey_round]
        for row in latest.to_dict("records"):
            survey_rows.append({**row, "priority": format_pct(row["priority_share"]),
                                "importance": format_pct(row["importance_share"]),
                                "importance_mean": _mean(row["importance_mean"]),
                                "satisfaction": _mean(row["satisfaction_mean"]),
                                "effort_pct": format_pct(row["effort_share"]),
                                "href": _drill(filters, objective=row["objective"])})
        inputs.update(survey=table, survey_round=survey_round)
        comments = survey_comments(survey, objectives, survey_round=survey_round).to_dict("records")
    return Overview(
        empty=summary.items == 0, tiles=tiles, headlines=headlines, alignment=rows, surveyed=surveyed,
        chart_inputs=inputs, breakdowns=breakdowns, unaligned_items=unaligned_items,
        survey_round=survey_round if survey is not None else None, survey_rounds=rounds,
        survey_rows=survey_rows, comments=comments, unknown_effort=summary.unknown_effort_items,
        first=summary.first, last=summary.last)


#: The charts of the overview, in page order.
CHARTS = ("effort", "nature", "trend", "scores", "unaligned", "survey")


def overview_charts(page: Overview) -> dict[str, Chart]:
    """The overview's figures (plotly JSON) with a drill-down URL per point. Drawn
    after the numbers: building plotly figures costs more than the KPIs themselves."""
    inputs = page.chart_inputs
    filters: Filters = inputs["filters"]
    freq: str = inputs["freq"]
    charts: dict[str, Chart] = {}
    if "alignment" in inputs:
        alignment, histogram = inputs["alignment"], inputs["histogram"]
        charts["effort"] = Chart("effort", _json(effort_vs_priority_chart(alignment)),
                                 [_drill(filters, objective=o) for o in alignment["objective"]])
        charts["unaligned"] = Chart("unaligned", _json(unaligned_chart(inputs["share"])),
                                    [_drill(filters, objective=UNALIGNED)] * 2)
        charts["scores"] = Chart("scores", _json(score_histogram_chart(histogram)),
                                 [_drill(filters, score=(int(lo), int(hi)))
                                  for lo, hi in zip(histogram["low"], histogram["high"])])
    if "natures" in inputs:
        natures, over_time = inputs["natures"], inputs["trend"]
        charts["nature"] = Chart("nature", _json(nature_trend_chart(natures)),
                                 _bucket_drills(filters, natures["bucket"], freq))
        charts["trend"] = Chart("trend", _json(trend_chart(over_time)),
                                _bucket_drills(filters, over_time["bucket"], freq))
    if "survey" in inputs:
        table, survey_round = inputs["survey"], inputs["survey_round"]
        latest = table[table["round"] == survey_round]
        charts["survey"] = Chart("survey", _json(survey_gap_chart(table, survey_round)),
                                 [_drill(filters, objective=o) for o in latest["objective"]])
    return charts


def _json(figure: Any) -> str:
    """Plotly JSON safe anywhere in a page: "<" only occurs inside JSON strings, where
    \u003c means the same, so "</script>" in a label cannot end a script block."""
    return figure_json(figure).replace("<", "\\u003c")


def _mean(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1f}"


def _score(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.0f}"


def _bucket_drills(filters: Filters, buckets: pd.Series, freq: str) -> list[str]:
    out = []
    for start in pd.to_datetime(buckets):
        end = start + (pd.DateOffset(months=1) if freq == "month" else pd.Timedelta(days=7))
        since = start.date()
        until = (end - pd.Timedelta(days=1)).date()
        if filters.since and filters.since > since:
            since = filters.since
        if filters.until and filters.until < until:
            until = filters.until
        out.append(_drill(filters, since=since, until=until))
    return out


def _breakdown(estate: pd.DataFrame, by: str, filters: Filters) -> tuple[list[dict[str, Any]], int]:
    if not len(estate):
        return [], 0
    split = nature_split(estate, by=by)  # type: ignore[arg-type]
    scores = estate["score"].groupby(group_keys(estate, by), observed=True).mean()  # type: ignore[arg-type]
    scores.index = scores.index.astype("str")
    total_effort = float(split["effort"].sum()) or 1.0
    rows = []
    for row in split.head(GROUP_ROWS).to_dict("records"):
        group = row[by]
        missing = group == "(none)"
        rows.append({"group": group, "items": int(row["items"]), "effort": format_effort(row["effort"]),
                     "effort_share": format_pct(row["effort"] / total_effort),
                     "reactive": format_pct(row["reactive_effort_share"]),
                     "score": _score(scores.get(group)),
                     "href": None if missing else _drill(filters, **{by: group})})
    return rows, len(split)


# ------------------------------------------------------------------ drill-down
@dataclass
class Drill:
    items: list[dict[str, Any]]
    total: int
    effort: float
    filters_shown: list[tuple[str, str]]
    native: list[NativeFilter]
    frame: pd.DataFrame


def drill(snapshot: Snapshot, filters: Filters, objectives: Sequence[Objective],
          links: PlatformLinks) -> Drill:
    """The items behind a number, largest effort first, with the native filters."""
    names = names_of(objectives)
    estate = snapshot.estate(filters.period)
    items = drill_down(estate, objective=filters.objective or None, project=filters.project or None,
                       team=filters.team or None, item_type=filters.type or None,
                       nature=filters.nature or None, score_range=filters.score)
    effort = items["effort"].to_numpy(dtype=float)
    counted = float(np.where(np.isfinite(effort) & (effort > 0), effort, 1.0).sum())
    shown = []
    for row in items.head(DRILL_ROWS).to_dict("records"):
        objective = str(row["objective"])
        shown.append({**row, "objective_name": names.get(objective, objective),
                      "effort_text": format_effort(row["effort"]), "score_text": _score(row["score"]),
                      "url": row["url"] if isinstance(row["url"], str)
                      and row["url"].lower().startswith(("https://", "http://")) else None})
    keys = {platform: list(group["item_key"]) for platform, group in items.groupby("platform", observed=True)}
    criteria = Criteria(
        objective_ids=filters.objective, objective_names=[names.get(o, o) for o in filters.objective],
        projects=filters.project, teams=filters.team, types=filters.type, natures=filters.nature,
        score_range=filters.score, since=filters.since, until=filters.until_exclusive)
    return Drill(items=shown, total=len(items), effort=counted, filters_shown=filters.describe(names),
                 native=native_filters(links, keys, criteria), frame=items)


# ------------------------------------------------------------------ admin
def admin_rules(snapshot: Snapshot, filters: Filters, rule_objectives: Mapping[str, str | None]) -> Any:
    """Rule quality over the period (reports.rules; it decodes ``rule_ids`` only for
    the rows it counts)."""
    return rule_quality(snapshot.history, rule_objectives, period=filters.period)
