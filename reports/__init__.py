"""Reports: what the assessment history says about IT's alignment with the business.

Pure: pandas, numpy and plotly only; of itsm-align it imports only the domain types of
``itsm_align.scoring``. No HTTP, web framework or database.

Start with :func:`normalise_history` on the history frame (one row per assessment);
every KPI function takes the normalised frame and an optional ``period=(since,
until)``. :func:`build_report` computes them all, :func:`render_report` and
:func:`write_report` make the offline HTML page and the CSV files.

Which rows count: estate KPIs use each ticket's latest assessment in the period
(deleted items excluded, see :mod:`.estate`); trends count each assessment in the week
or month it was made (see :mod:`.trend`); rule quality also counts projects (see
:mod:`.rules`). Effort is what the history recorded (hours or story points), or
another measure (see :data:`EFFORT_MEASURES`); unknown effort counts 1. The period is always by each
assessment's ``assessed_at``.
"""
from .alignment import effort_vs_priority
from .charts import (
    effort_vs_priority_chart, figure_json, nature_trend_chart, objective_trend_chart,
    score_histogram_chart,
    survey_gap_chart, trend_chart, unaligned_chart,
)
from .drilldown import drill_down
from .estate import (
    EstateSummary, current_estate, effort_by_objective, estate_summary, latest_assessments,
)
from .export import write_built_report, write_report
from .fmt import format_effort, format_pct, format_pp
from .frame import DEFAULT_EFFORT, EFFORT_MEASURES, Period, normalise_history
from .html import render_html, render_report
from .nature import nature_split
from .report import Report, build_report
from .rules import RuleQuality, rule_lists, rule_quality
from .scores import SCORE_BINS, score_histogram, score_summary
from .survey import (
    SHARE_GAP, SURVEY_COLUMNS, latest_round, normalise_survey, survey_comments, survey_table,
)
from .transition import NOT_ASSESSED, transition_lines, transition_table
from .trend import bucket_latest, nature_trend, objective_trend, trend
from .unaligned import UnalignedShare, largest_unaligned, unaligned_share

__all__ = [
    "DEFAULT_EFFORT", "EFFORT_MEASURES", "NOT_ASSESSED", "SCORE_BINS", "SHARE_GAP",
    "SURVEY_COLUMNS", "EstateSummary", "Period",
    "Report", "RuleQuality", "UnalignedShare", "build_report", "bucket_latest",
    "current_estate", "drill_down", "effort_by_objective", "effort_vs_priority",
    "effort_vs_priority_chart", "estate_summary", "figure_json", "format_effort",
    "format_pct", "format_pp", "largest_unaligned", "latest_assessments", "latest_round",
    "nature_split", "objective_trend_chart", "rule_lists", "write_built_report",
    "nature_trend", "nature_trend_chart", "normalise_history", "normalise_survey",
    "objective_trend", "render_html", "render_report", "rule_quality", "score_histogram",
    "score_histogram_chart", "score_summary", "survey_comments", "survey_gap_chart",
    "survey_table", "transition_lines", "transition_table", "trend", "trend_chart",
    "unaligned_chart", "unaligned_share", "write_report",
]
