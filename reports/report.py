"""Every KPI of one report, computed once: :func:`build_report`.

The HTML page (:mod:`.html`) and the CSV export (:mod:`.export`) both render a
:class:`Report`; a dashboard may use one too. The current estate is computed once and
handed to every estate KPI (they are idempotent on it), so a report over a million
assessments normalises, sorts and deduplicates the history only once.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from itsm_align.scoring.types import Objective

from .alignment import effort_vs_priority
from .estate import EstateSummary, current_estate, estate_summary
from .frame import EFFORT_MEASURES, Period, TimeLike, normalise_history, period_bounds
from .groups import DIMENSIONS
from .nature import nature_split
from .rules import RuleQuality, rule_quality
from .scores import score_histogram, score_summary
from .survey import normalise_survey, survey_comments, survey_table
from .trend import Freq, nature_trend, objective_trend, trend
from .unaligned import UnalignedShare, largest_unaligned, unaligned_share

__all__ = ["DEFAULT_TITLE", "Report", "build_report"]

DEFAULT_TITLE = "IT alignment with business objectives"


@dataclass(frozen=True)
class Report:
    """The KPIs of one period. ``since``/``until`` are the period asked for (``until``
    exclusive), or the first/last assessment counted where the period is open."""

    title: str
    generated_at: pd.Timestamp
    since: pd.Timestamp | None
    until: pd.Timestamp | None
    until_exclusive: bool
    freq: Freq
    objectives: tuple[Objective, ...]
    estate: EstateSummary
    alignment: pd.DataFrame
    unaligned: UnalignedShare
    unaligned_items: pd.DataFrame
    score_histogram: pd.DataFrame
    scores: Mapping[str, pd.DataFrame]
    nature: pd.DataFrame
    nature_by_objective: pd.DataFrame
    nature_trend: pd.DataFrame
    trend: pd.DataFrame
    objective_trend: pd.DataFrame
    rules: RuleQuality
    survey: pd.DataFrame | None
    survey_comments: pd.DataFrame | None
    #: What effort counts (a key of :data:`.frame.EFFORT_MEASURES`).
    effort_measure: str = "effort"

    @property
    def effort_label(self) -> str:
        """What effort means in this report, for people ("story points", ...)."""
        return EFFORT_MEASURES[self.effort_measure]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by its CSV file stem (``effort_vs_priority`` ...); the survey
        tables only when there was a survey."""
        tables = {
            "effort_vs_priority": self.alignment,
            "unaligned_items": self.unaligned_items,
            "score_histogram": self.score_histogram,
            **{f"scores_by_{by}": table for by, table in self.scores.items()},
            "nature": self.nature,
            "nature_by_objective": self.nature_by_objective,
            "nature_trend": self.nature_trend,
            "trend": self.trend,
            "objective_trend": self.objective_trend,
            "rule_quality": self.rules.rules,
            "rule_disagreements": self.rules.disagreements,
        }
        if self.survey is not None and self.survey_comments is not None:
            tables["survey"] = self.survey
            tables["survey_comments"] = self.survey_comments
        return tables


def build_report(history: pd.DataFrame, objectives: Sequence[Objective],
                 rule_objectives: Mapping[str, str | None],
                 survey: pd.DataFrame | None = None, *, period: Period | None = None,
                 freq: Freq = "month", now: TimeLike = None, top: int = 20,
                 title: str = DEFAULT_TITLE, effort: str = "effort") -> Report:
    """Compute every KPI of the report.

    ``history`` is the raw assessment history (or the frame of scored ticket files,
    whose missing ``assessed_at`` becomes ``now``); ``survey`` the optional responses
    (ignored when empty); ``top`` the number of largest unaligned items listed; ``now``
    also stamps the report (default the current time); ``effort`` the effort measure
    (:data:`.frame.EFFORT_MEASURES`: recorded ``effort``, ``story_points``, ``time_spent``,
    ``time_worked`` or ``count``); ``freq`` the trend bucket (``week`` or ``month``).
    Which rows count where: see the package docstring; the period is always by
    ``assessed_at``.
    """
    generated_at = (pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC"))
    generated_at = (generated_at.tz_localize("UTC") if generated_at.tzinfo is None
                    else generated_at.tz_convert("UTC"))
    normalised = normalise_history(history, now=generated_at, effort=effort)
    estate = current_estate(normalised, period=period)
    summary = estate_summary(estate)
    if survey is not None and survey.empty:
        survey = None
    responses = normalise_survey(survey) if survey is not None else None
    since, until = period_bounds(period)
    return Report(
        title=title,
        generated_at=generated_at,
        since=since if since is not None else summary.first,
        until=until if until is not None else summary.last,
        until_exclusive=until is not None,
        freq=freq,
        objectives=tuple(objectives),
        estate=summary,
        alignment=effort_vs_priority(estate, objectives, responses),
        unaligned=unaligned_share(estate),
        unaligned_items=largest_unaligned(estate, top=top),
        score_histogram=score_histogram(estate),
        scores={by: score_summary(estate, by) for by in DIMENSIONS},
        nature=nature_split(estate),
        nature_by_objective=nature_split(estate, by="objective"),
        nature_trend=nature_trend(normalised, freq=freq, period=period),
        trend=trend(normalised, freq=freq, period=period),
        objective_trend=objective_trend(normalised, objectives, freq=freq, period=period),
        rules=rule_quality(normalised, rule_objectives, period=period),
        survey=(survey_table(responses, objectives, estate)
                if responses is not None else None),
        survey_comments=(survey_comments(responses, objectives)
                         if responses is not None else None),
        effort_measure=effort,
    )
