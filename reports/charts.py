"""Plotly figures of the KPI tables, for the HTML report and the dashboard.

Every function takes a table from the KPI modules and returns a ``plotly.graph_objects
.Figure``; :func:`figure_json` serialises one for a dashboard (``Plotly.newPlot``).
Text from the data is HTML-escaped before it becomes a label, because plotly.js reads a
few HTML tags in labels.
"""
from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from itsm_align.scoring.types import UNALIGNED

from .survey import latest_round
from .unaligned import UnalignedShare

__all__ = [
    "COLOURS", "effort_vs_priority_chart", "figure_json", "nature_trend_chart",
    "objective_trend_chart",
    "score_histogram_chart", "survey_gap_chart", "trend_chart", "unaligned_chart",
]

FONT = '-apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
#: One colour per meaning, the same in every figure.
COLOURS = {
    "priority": "#a9b4c2", "effort": "#1f3a5f", "importance": "#2a9d8f",
    "aligned": "#1f3a5f", "unaligned": "#e9a23b", "proactive": "#2a9d8f",
    "reactive": "#e76f51", "score": "#1f3a5f",
}


def _label(text: object) -> str:
    return html.escape(str(text), quote=False)


def _figure(title: str) -> go.Figure:
    figure = go.Figure()
    _style(figure, title)
    return figure


def _slim_white() -> go.layout.Template:
    """The parts of plotly's "plotly_white" look our charts use. Assigning the
    whole named template copies and validates all of it for every figure (about
    50 ms each, most of a dashboard filter change); this one costs about 1 ms."""
    white = pio.templates["plotly_white"].layout
    axis_keys = ("gridcolor", "linecolor", "zerolinecolor", "zerolinewidth", "ticks", "automargin")

    def axis(source: Any) -> dict[str, Any]:
        return {key: source[key] for key in axis_keys if source[key] is not None} | {
            "title": {"standoff": 15}}

    return go.layout.Template(layout={
        "plot_bgcolor": white.plot_bgcolor, "paper_bgcolor": white.paper_bgcolor, "colorway": white.colorway,
        "hovermode": white.hovermode, "xaxis": axis(white.xaxis), "yaxis": axis(white.yaxis)})


_TEMPLATE = _slim_white()


def _style(figure: go.Figure, title: str) -> None:
    figure.update_layout(
        template=_TEMPLATE, title={"text": _label(title), "x": 0, "xanchor": "left"},
        font={"family": FONT, "size": 13, "color": "#1d2733"},
        margin={"l": 56, "r": 24, "t": 64, "b": 48},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        bargap=0.25, hoverlabel={"font": {"family": FONT}},
    )


def effort_vs_priority_chart(alignment: pd.DataFrame) -> go.Figure:
    """Grouped bars per objective: stated priority share, effort share and, when the
    table has it, surveyed importance share (a :func:`.alignment.effort_vs_priority`
    table)."""
    figure = _figure("Stated priority vs IT effort")
    names = [_label(name) for name in alignment["name"]]
    series = [("Stated priority", "priority_share", "priority"),
              ("IT effort", "effort_share", "effort")]
    if "importance_share" in alignment.columns:
        series.append(("Surveyed importance", "importance_share", "importance"))
    for title, column, colour in series:
        figure.add_bar(name=title, x=names, y=alignment[column], marker_color=COLOURS[colour],
                       hovertemplate="%{x}<br>" + title + ": %{y:.1%}<extra></extra>")
    figure.update_layout(barmode="group", yaxis={"tickformat": ".0%", "rangemode": "tozero"})
    return figure


def unaligned_chart(share: UnalignedShare) -> go.Figure:
    """Two 100% bars, effort and items, split into aligned and unaligned."""
    figure = _figure("Unaligned share of IT work")
    rows = ["Items", "Effort"]
    unaligned = [share.item_share, share.effort_share]
    aligned = [1 - value if share.total_items else 0.0 for value in unaligned]
    for title, values, colour in (("Aligned", aligned, "aligned"),
                                  ("Unaligned", unaligned, "unaligned")):
        figure.add_bar(name=title, y=rows, x=values, orientation="h",
                       marker_color=COLOURS[colour], text=[f"{v:.0%}" for v in values],
                       textposition="inside",
                       hovertemplate="%{y}: %{x:.1%} " + title.lower() + "<extra></extra>")
    figure.update_layout(barmode="stack", height=240, xaxis={"tickformat": ".0%",
                                                             "range": [0, 1]})
    return figure


def score_histogram_chart(histogram: pd.DataFrame) -> go.Figure:
    """Items per alignment-score bin (a :func:`.scores.score_histogram` table)."""
    figure = _figure("Alignment score distribution")
    figure.add_bar(x=histogram["bin"], y=histogram["items"], customdata=histogram["share"],
                   marker_color=COLOURS["score"], name="Items",
                   hovertemplate="Score %{x}: %{y} items (%{customdata:.1%})<extra></extra>")
    figure.update_layout(xaxis={"title": "Alignment score", "type": "category"},
                         yaxis={"title": "Items"}, showlegend=False)
    return figure


def nature_trend_chart(nature_trend: pd.DataFrame) -> go.Figure:
    """Stacked area of the proactive and reactive effort shares per bucket (a
    :func:`.trend.nature_trend` table)."""
    figure = _figure("Proactive vs reactive effort over time")
    for nature in ("proactive", "reactive"):
        figure.add_scatter(x=nature_trend["bucket"], y=nature_trend[f"{nature}_effort_share"],
                           name=nature.capitalize(), stackgroup="nature", mode="lines",
                           line={"width": 0.5, "color": COLOURS[nature]},
                           hovertemplate="%{x|%d %b %Y}: %{y:.1%} " + nature + "<extra></extra>")
    figure.update_layout(yaxis={"tickformat": ".0%", "range": [0, 1]})
    return figure


def trend_chart(trend: pd.DataFrame) -> go.Figure:
    """Unaligned and reactive effort shares (left axis) and mean score (right axis) per
    bucket (a :func:`.trend.trend` table)."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    _style(figure, "Alignment over time")
    for title, column, colour in (("Unaligned effort", "unaligned_effort_share", "unaligned"),
                                  ("Reactive effort", "reactive_effort_share", "reactive")):
        figure.add_scatter(x=trend["bucket"], y=trend[column], name=title, mode="lines+markers",
                           line={"color": COLOURS[colour]}, secondary_y=False,
                           hovertemplate="%{x|%d %b %Y}: %{y:.1%}<extra>" + title + "</extra>")
    figure.add_scatter(x=trend["bucket"], y=trend["mean_score"], name="Mean score",
                       mode="lines+markers", line={"color": COLOURS["score"], "dash": "dot"},
                       secondary_y=True,
                       hovertemplate="%{x|%d %b %Y}: %{y:.1f}<extra>Mean score</extra>")
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", secondary_y=False)
    figure.update_yaxes(range=[0, 100], title_text="Mean score", secondary_y=True,
                        showgrid=False)
    return figure


def survey_gap_chart(survey: pd.DataFrame, survey_round: str | None = None) -> go.Figure:
    """Grouped bars per objective for one round (default the latest): stated priority,
    surveyed importance and effort shares (a :func:`.survey.survey_table` table); the
    hover adds the mean satisfaction."""
    survey_round = survey_round or latest_round(survey)
    rows = survey[survey["round"] == survey_round]
    figure = _figure(f"Survey {survey_round}: what people rate vs where effort goes")
    names = [_label(name) for name in rows["name"]]
    for title, column, colour in (("Stated priority", "priority_share", "priority"),
                                  ("Surveyed importance", "importance_share", "importance"),
                                  ("IT effort", "effort_share", "effort")):
        figure.add_bar(name=title, x=names, y=rows[column], marker_color=COLOURS[colour],
                       customdata=rows["satisfaction_mean"],
                       hovertemplate=("%{x}<br>" + title + ": %{y:.1%}"
                                      "<br>Satisfaction: %{customdata:.1f} / 5<extra></extra>"))
    figure.update_layout(barmode="group", yaxis={"tickformat": ".0%", "rangemode": "tozero"})
    return figure


#: Colours of objectives in the trend, in declared order (Unaligned keeps its own).
OBJECTIVE_PALETTE = ("#1f3a5f", "#2a9d8f", "#8ab17d", "#e9c46a", "#6d597a", "#457b9d",
                     "#b56576", "#355070", "#83c5be", "#9c6644")


def objective_trend_chart(objective_trend: pd.DataFrame) -> go.Figure:
    """Stacked area of each objective's effort share per bucket (a
    :func:`.trend.objective_trend` table), Unaligned on top in its warning colour."""
    figure = _figure("Where effort went over time, by objective")
    order = list(dict.fromkeys(objective_trend["objective"]))
    order = [oid for oid in order if oid != UNALIGNED] + (
        [UNALIGNED] if UNALIGNED in order else [])
    buckets = pd.Index(sorted(objective_trend["bucket"].unique()))
    for i, oid in enumerate(order):
        rows = objective_trend[objective_trend["objective"] == oid].set_index("bucket")
        shares = rows["effort_share"].reindex(buckets).fillna(0.0)
        name = rows["name"].iat[0]
        colour = (COLOURS["unaligned"] if oid == UNALIGNED
                  else OBJECTIVE_PALETTE[i % len(OBJECTIVE_PALETTE)])
        figure.add_scatter(x=buckets, y=shares, name=_label(name), stackgroup="objective",
                           mode="lines", line={"width": 0.5, "color": colour},
                           hovertemplate="%{x|%d %b %Y}: %{y:.1%}<extra>" + _label(name)
                           + "</extra>")
    figure.update_layout(yaxis={"tickformat": ".0%", "range": [0, 1]}, height=420)
    return figure


def figure_json(figure: go.Figure) -> str:
    """The figure as plotly JSON (``data``, ``layout``) for a dashboard."""
    return figure.to_json()
