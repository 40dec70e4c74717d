"""The offline HTML report: one self-contained page a CIO can show the board.

:func:`render_html` turns a :class:`.report.Report` into one page: inline CSS, the
plotly.js bundle shipped with the ``plotly`` package embedded exactly once, every figure
as a ``<div>`` drawn by it. Nothing is loaded from the network; the only URLs are
``<a href>`` links to items on their platform (http/https only). Every text that comes
from the data (names, summaries, keys, comments) is HTML-escaped.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from itsm_align.scoring.types import Objective

from . import charts
from .fmt import MISSING, format_date, format_effort, format_pct, format_pp, format_score
from .frame import Period, TimeLike
from .objectives import objective_names
from .report import DEFAULT_TITLE, Report, build_report
from .survey import HIGH_IMPORTANCE, LOW_SATISFACTION, SHARE_GAP, latest_round
from .trend import Freq

__all__ = ["render_html", "render_report"]

#: Rows shown per long table (rules, disagreements, groups); the CSV export has all.
SHOWN_ROWS = 15
_PLOT_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["select2d", "lasso2d"]}

_CSS = """
:root { --ink:#1d2733; --muted:#5b6776; --line:#e3e7ec; --accent:#1f3a5f; --warn:#c2410c;
        --good:#15803d; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
header { background:var(--accent); color:#fff; padding:32px 48px 28px; }
header h1 { margin:0 0 6px; font-size:28px; font-weight:600; letter-spacing:-0.01em; }
header p { margin:0; opacity:.85; }
nav { margin-top:18px; display:flex; flex-wrap:wrap; gap:6px 18px; font-size:14px; }
nav a { color:#fff; opacity:.8; text-decoration:none; border-bottom:1px solid transparent; }
nav a:hover { opacity:1; border-bottom-color:#fff; }
main { max-width:1180px; margin:0 auto; padding:24px 32px 48px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px;
          padding:24px 28px; margin:20px 0; }
h2 { margin:0 0 4px; font-size:20px; font-weight:600; }
h3 { margin:20px 0 8px; font-size:15px; font-weight:600; }
.lead { color:var(--muted); margin:0 0 16px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(170px,1fr)); gap:12px;
         margin:12px 0 4px; }
.tile { border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
.tile .value { font-size:26px; font-weight:600; font-variant-numeric:tabular-nums; }
.tile .label { color:var(--muted); font-size:13px; }
ul.headlines { list-style:none; padding:0; margin:8px 0 0; }
ul.headlines li { padding:9px 0; border-bottom:1px solid var(--line); display:flex;
                  justify-content:space-between; gap:16px; }
ul.headlines li:last-child { border-bottom:0; }
.badge { font-size:13px; font-weight:600; padding:2px 8px; border-radius:999px;
         white-space:nowrap; font-variant-numeric:tabular-nums; }
.over { background:#fdecea; color:var(--warn); }
.under { background:#fff4e0; color:#9a5b00; }
.even { background:#e8f5ec; color:var(--good); }
table { width:100%; border-collapse:collapse; margin:8px 0; font-size:14px; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line);
         vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase;
     letter-spacing:.04em; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr.flagged td { background:#fff8f1; }
.flag { color:var(--warn); font-weight:600; }
.note { color:var(--muted); font-size:13px; }
.chart { margin:8px 0; }
blockquote { margin:6px 0; padding:6px 12px; border-left:3px solid var(--line); }
blockquote cite { display:block; color:var(--muted); font-size:12px; font-style:normal; }
a { color:var(--accent); }
footer { max-width:1180px; margin:0 auto; padding:0 32px 40px; color:var(--muted);
         font-size:13px; }
@media print { body { background:#fff; } section { break-inside:avoid; } }
"""


def _esc(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING
    return html.escape(str(value))


def _link(url: object, text: object) -> str:
    """``text`` linked to ``url`` when that is an http(s) URL, else plain text."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return (f'<a href="{html.escape(url, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer">{_esc(text)}</a>')
    return _esc(text)


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]],
           flagged: Iterable[bool] | None = None) -> str:
    """A table; ``head`` is (label, numeric) per column, cells are ready HTML."""
    header = "".join(f'<th class="num">{_esc(label)}</th>' if numeric
                     else f"<th>{_esc(label)}</th>" for label, numeric in head)
    marks = iter(flagged) if flagged is not None else None
    body = []
    for cells in rows:
        cls = ' class="flagged"' if marks is not None and next(marks) else ""
        body.append(f"<tr{cls}>" + "".join(
            f'<td class="num">{cell}</td>' if numeric else f"<td>{cell}</td>"
            for cell, (_, numeric) in zip(cells, head)) + "</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _tiles(tiles: Iterable[tuple[str, str]]) -> str:
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><div class="value">{value}</div>'
        f'<div class="label">{_esc(label)}</div></div>' for value, label in tiles) + "</div>"


def _section(anchor: str, title: str, lead: str, *parts: str) -> str:
    lead_html = f'<p class="lead">{lead}</p>' if lead else ""
    return f'<section id="{anchor}"><h2>{_esc(title)}</h2>{lead_html}{"".join(parts)}</section>'


def _figure(figure: go.Figure, anchor: str) -> str:
    div = pio.to_html(figure, full_html=False, include_plotlyjs=False, config=_PLOT_CONFIG,
                      div_id=f"chart-{anchor}", default_height="380px")
    return f'<div class="chart">{div}</div>'


def _more(total: int) -> str:
    hidden = total - SHOWN_ROWS
    return (f'<p class="note">{hidden} more row{"s" if hidden != 1 else ""} '
            f"in the CSV export.</p>" if hidden > 0 else "")


def _period(report: Report) -> str:
    if report.since is None or report.until is None:
        return "no assessments in the period"
    last = report.until - pd.Timedelta(1, "ns") if report.until_exclusive else report.until
    return f"{format_date(report.since)} – {format_date(last)}"


def _gap_badge(gap: float) -> str:
    cls = "over" if gap > SHARE_GAP else "under" if gap < -SHARE_GAP else "even"
    return f'<span class="badge {cls}">{format_pp(gap)}</span>'


def _headlines(report: Report) -> str:
    table = report.alignment
    share = report.unaligned
    reactive = report.nature["reactive_effort_share"].iat[0] if len(report.nature) else None
    mean_score = report.scores["objective"]
    mean = ((mean_score["mean"] * mean_score["count"]).sum() / mean_score["count"].sum()
            if len(mean_score) and mean_score["count"].sum() else None)
    tiles = _tiles([
        (f"{report.estate.items:,}", "items in the period"),
        (format_effort(report.estate.effort), f"effort ({report.effort_label})"),
        (format_pct(share.effort_share), "of effort is unaligned"),
        (format_pct(reactive), "of effort is reactive"),
        (format_score(mean), "mean alignment score"),
    ])
    ranked = table.reindex(table["gap"].abs().sort_values(ascending=False, kind="stable").index)
    items = "".join(f"<li><span>{_esc(headline)}</span>{_gap_badge(gap)}</li>"
                    for headline, gap in zip(ranked["headline"], ranked["gap"]))
    unknown = report.estate.unknown_effort_items
    note = (f'<p class="note">{unknown:,} of {report.estate.items:,} items have no effort '
            "recorded; each counts as 1.</p>" if unknown else
            '<p class="note">Every item has effort recorded.</p>'
            if report.effort_measure != "count" else "")
    return _section("headline", "Where IT effort goes",
                    "Share of stated priority against share of IT effort, largest gap first. "
                    "The badge is effort minus priority in percentage points.",
                    tiles, f'<ul class="headlines">{items}</ul>', note)


def _alignment(report: Report) -> str:
    table = report.alignment
    surveyed = "importance_share" in table.columns
    head = [("Objective", False), ("Weight", True), ("Priority", True), ("Effort share", True),
            ("Gap", True), ("Items", True), ("Effort", True)]
    if surveyed:
        head.append(("Surveyed importance", True))
    rows = []
    for row in table.itertuples(index=False):
        cells = [_esc(row.name), str(row.weight), format_pct(row.priority_share),
                 format_pct(row.effort_share), format_pp(row.gap), f"{row.items:,}",
                 format_effort(row.effort)]
        if surveyed:
            cells.append(format_pct(row.importance_share))
        rows.append(cells)
    return _section("effort", "Effort vs priority",
                    "Stated priority is an objective's weight over the sum of weights.",
                    _figure(charts.effort_vs_priority_chart(table), "effort"), _table(head, rows))


def _unaligned(report: Report) -> str:
    share = report.unaligned
    tiles = _tiles([(format_pct(share.effort_share), "of effort is unaligned"),
                    (format_pct(share.item_share), "of items are unaligned"),
                    (f"{share.items:,}", "unaligned items")])
    head = [("Item", False), ("Summary", False), ("Project", False), ("Effort", True)]
    rows = [[_link(row.url, row.item_key), _esc(row.summary), _esc(row.project),
             format_effort(row.effort)] for row in report.unaligned_items.itertuples(index=False)]
    listing = (f"<h3>Largest unaligned items</h3>{_table(head, rows)}" if rows
               else '<p class="note">No unaligned items.</p>')
    return _section("unaligned", "Unaligned work",
                    "Assessed work that serves none of the declared objectives.",
                    tiles, _figure(charts.unaligned_chart(share), "unaligned"), listing)


def _scores(report: Report, names: Mapping[str, str]) -> str:
    head = [("Objective", False), ("Items", True), ("Mean", True), ("Median", True),
            ("P25", True), ("P75", True)]

    def rows(table: pd.DataFrame, label: str) -> list[list[str]]:
        return [[_esc(names.get(key, key) if label == "objective" else key), f"{count:,}",
                 format_score(mean), format_score(median), format_score(p25), format_score(p75)]
                for key, count, mean, median, p25, p75 in zip(
                    table[label], table["count"], table["mean"], table["median"], table["p25"],
                    table["p75"])]

    parts = [_figure(charts.score_histogram_chart(report.score_histogram), "scores"),
             "<h3>By objective</h3>", _table(head, rows(report.scores["objective"], "objective"))]
    for by, label in (("project", "Project"), ("team", "Team"), ("type", "Type")):
        table = report.scores[by]
        parts += [f"<h3>By {by}</h3>",
                  _table([(label, False), *head[1:]], rows(table.head(SHOWN_ROWS), by)),
                  _more(len(table))]
    return _section(
        "scores", "Alignment scores",
        "How clearly each item serves its objective (0–100), counted per item. Team is the "
        "Jira component or team field, or the ServiceNow assignment group.", *parts)


def _nature(report: Report, names: Mapping[str, str]) -> str:
    table = report.nature_by_objective
    head = [("Objective", False), ("Items", True), ("Reactive items", True),
            ("Reactive effort", True), ("Proactive effort", True)]
    rows = [[_esc(names.get(oid, oid)), f"{items:,}", format_pct(item_share),
             format_pct(effort_share), format_pct(1 - effort_share)]
            for oid, items, item_share, effort_share in zip(
                table["objective"], table["items"], table["reactive_item_share"],
                table["reactive_effort_share"])]
    overall = report.nature
    tiles = _tiles([
        (format_pct(overall["proactive_effort_share"].iat[0] if len(overall) else None),
         "of effort is proactive"),
        (format_pct(overall["reactive_effort_share"].iat[0] if len(overall) else None),
         "of effort is reactive"),
        (format_pct(overall["reactive_item_share"].iat[0] if len(overall) else None),
         "of items are reactive"),
    ])
    return _section(
        "nature", "Proactive vs reactive",
        "Proactive work is planned improvement; reactive work answers something broken. In "
        f"the trend each assessment counts in the {report.freq} it was made (its "
        "assessed_at); per period an item counts once, with its latest assessment in it.",
        tiles, _figure(charts.nature_trend_chart(report.nature_trend), "nature"),
        "<h3>By objective</h3>", _table(head, rows))


def _trend(report: Report) -> str:
    head = [("Period", False), ("Items", True), ("Effort", True), ("Unaligned effort", True),
            ("Mean score", True), ("Reactive effort", True)]
    table = report.trend
    rows = [[format_date(bucket) if report.freq == "week" else f"{bucket:%b %Y}", f"{items:,}",
             format_effort(effort), format_pct(unaligned), format_score(score),
             format_pct(reactive)]
            for bucket, items, effort, unaligned, score, reactive in zip(
                table["bucket"], table["items"], table["effort"],
                table["unaligned_effort_share"], table["mean_score"],
                table["reactive_effort_share"])]
    return _section("trend", "Trend",
                    f"Per {report.freq}, by the date each assessment was made (assessed_at).",
                    _figure(charts.trend_chart(table), "trend"),
                    _figure(charts.objective_trend_chart(report.objective_trend),
                            "objective-trend"),
                    _table(head, rows))


def _rules(report: Report, names: Mapping[str, str]) -> str:
    quality = report.rules
    rules = quality.rules
    head = [("Rule", False), ("Evidence for", False), ("Fired", True), ("Overrides", True),
            ("Override rate", True), ("Conflicts", True), ("Overridden e.g.", False)]
    shown = rules.sort_values(["override_rate", "fired"], ascending=[False, False],
                              na_position="last", kind="stable").head(SHOWN_ROWS)
    rows = [[_esc(rule), _esc(names.get(oid, oid) if isinstance(oid, str) else "inherited"),
             f"{fired:,}", _esc(overrides) if not pd.isna(overrides) else MISSING,
             format_pct(rate), f"{conflicts:,}", _esc(", ".join(examples))]
            for rule, oid, fired, overrides, rate, conflicts, examples in zip(
                shown["rule_id"], shown["objective"], shown["fired"], shown["overrides"],
                shown["override_rate"], shown["conflicts"], shown["override_examples"])]
    never = (f"<h3>Never fired ({len(quality.never_fired)})</h3>"
             f"<p>{_esc(', '.join(quality.never_fired))}</p>" if quality.never_fired else "")
    disputed = quality.disagreements
    if len(disputed):
        top = disputed.head(SHOWN_ROWS)
        dis_rows = [[_link(url, key), _esc(summary), _esc(names.get(oid, oid)), _esc(claims),
                     _esc(fired)]
                    for key, summary, oid, claims, fired, url in zip(
                        top["item_key"], top["summary"], top["objective"],
                        top["rule_objectives"], top["rules"], top["url"])]
        conflicts = (f"<h3>Rules disagreeing ({len(disputed):,} items)</h3>"
                     + _table([("Item", False), ("Summary", False), ("Assessed as", False),
                               ("Rules claim", False), ("Rules", False)], dis_rows)
                     + _more(len(disputed)))
    else:
        conflicts = '<p class="note">No item had rules for different objectives.</p>'
    return _section(
        "rules", "Rule quality",
        "For rule administrators: an override is a person choosing an objective other than "
        "the one the rule is evidence for. Most overridden first.",
        _table(head, rows), _more(len(rules)), never, conflicts)


def _survey(report: Report) -> str:
    survey = report.survey
    comments = report.survey_comments
    if survey is None or comments is None:
        return ""
    head = [("Round", False), ("Objective", False), ("Responses", True), ("Priority", True),
            ("Importance", True), ("Importance share", True), ("Satisfaction", True),
            ("Effort share", True), ("Flags", False)]
    rows = [[_esc(rnd), _esc(name), f"{responses:,}", format_pct(priority),
             format_score(importance), format_pct(importance_share), format_score(satisfaction),
             format_pct(effort), f'<span class="flag">{_esc(flags)}</span>' if flags else ""]
            for rnd, name, responses, priority, importance, importance_share, satisfaction,
            effort, flags in zip(
                survey["round"], survey["name"], survey["responses"], survey["priority_share"],
                survey["importance_mean"], survey["importance_share"],
                survey["satisfaction_mean"], survey["effort_share"], survey["flags"])]
    groups = []
    for name, group in comments.groupby("name", sort=False):
        quotes = "".join(f"<blockquote>{_esc(text)}<cite>{_esc(department)} · {_esc(rnd)}"
                         f"</cite></blockquote>"
                         for text, department, rnd in zip(group["comment"], group["department"],
                                                           group["round"]))
        groups.append(f"<h3>{_esc(name)}</h3>{quotes}")
    return _section(
        "survey", "What the business says",
        f"Flagged where two shares differ by more than {SHARE_GAP * 100:g} percentage points, or "
        f"where mean importance is at least {HIGH_IMPORTANCE:g} while satisfaction is at "
        f"most {LOW_SATISFACTION:g}.",
        _figure(charts.survey_gap_chart(survey, latest_round(survey)), "survey"),
        _table(head, rows, flagged=survey["flagged"]),
        "<h3>Comments</h3>" + ("".join(groups) or '<p class="note">No comments.</p>'))


def _nav(report: Report) -> str:
    links = [("headline", "Summary"), ("effort", "Effort vs priority"),
             ("unaligned", "Unaligned"), ("scores", "Scores"), ("nature", "Proactive/reactive"),
             ("trend", "Trend"), ("rules", "Rule quality")]
    if report.survey is not None:
        links.append(("survey", "Survey"))
    return "<nav>" + "".join(f'<a href="#{anchor}">{_esc(label)}</a>'
                             for anchor, label in links) + "</nav>"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    names = objective_names(report.objectives)
    generated = f"{format_date(report.generated_at)} {report.generated_at:%H:%M} UTC"
    body = "".join([
        _headlines(report), _alignment(report), _unaligned(report),
        _scores(report, names), _nature(report, names), _trend(report),
        _rules(report, names), _survey(report),
    ])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(report.title)}</title><style>{_CSS}</style>"
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>{_esc(report.title)}</h1>"
        f"<p>Period {_esc(_period(report))} · effort counted as {_esc(report.effort_label)}"
        f" · generated {_esc(generated)}</p>{_nav(report)}</header>"
        f"<main>{body}</main>"
        f"<footer>Effort is {_esc(report.effort_label)}; an item without it counts as 1. "
        "Each item counts once, with its latest assessment in the period (by the date it "
        "was assessed); deleted items do not count. Stated priority is the objective's "
        "weight over the sum of weights. Every table is also in a CSV file beside this "
        "page.</footer></body></html>\n"
    )


def render_report(history: pd.DataFrame, objectives: Sequence[Objective],
                  rule_objectives: Mapping[str, str | None],
                  survey: pd.DataFrame | None = None, *, period: Period | None = None,
                  freq: Freq = "month", now: TimeLike = None, top: int = 20,
                  title: str = DEFAULT_TITLE, effort: str = "effort") -> str:
    """Build the report (:func:`.report.build_report`) and render it as one HTML page."""
    return render_html(build_report(history, objectives, rule_objectives, survey,
                                    period=period, freq=freq, now=now, top=top, title=title,
                                    effort=effort))
