"""The KPI functions, on the hand-built history of conftest.py (numbers worked out by hand)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from itsm_align.reports import (
    current_estate, effort_vs_priority, estate_summary, largest_unaligned, nature_split,
    normalise_history, objective_trend, score_histogram, score_summary, trend,
    unaligned_share,
)
from itsm_align.reports.trend import nature_trend

from .conftest import OBJECTIVES, rows

JANUARY = ("2026-01-01", "2026-02-01")


def by(table: pd.DataFrame, column: str) -> dict:
    return {key: row for key, row in zip(table[column], table.to_dict("records"))}


def test_estate_is_each_tickets_latest_assessment_and_drops_deleted_items(history):
    estate = current_estate(normalise_history(history))
    assert sorted(estate["item_key"]) == ["A-1", "A-2", "A-3"]
    assert estate.set_index("item_key").loc["A-1", "objective"] == "compliance"
    summary = estate_summary(normalise_history(history))
    assert (summary.items, summary.effort, summary.unknown_effort_items) == (3, 12.0, 1)


def test_effort_share_against_stated_priority(history):
    table = by(effort_vs_priority(normalise_history(history), OBJECTIVES), "objective")
    assert list(table) == ["revenue", "compliance", "unaligned"]
    revenue, compliance, unaligned = table["revenue"], table["compliance"], table["unaligned"]
    assert revenue["priority_share"] == pytest.approx(0.75)
    assert revenue["effort_share"] == pytest.approx(3 / 12)
    assert revenue["gap"] == pytest.approx(0.25 - 0.75)
    assert compliance["effort_share"] == pytest.approx(8 / 12)
    assert (unaligned["items"], unaligned["unknown_effort_items"]) == (1, 1)
    assert unaligned["effort_share"] == pytest.approx(1 / 12)
    assert revenue["headline"] == "Grow online revenue: 75% of stated priority, 25% of IT effort"


def test_period_keeps_the_latest_assessment_inside_it(history):
    normalised = normalise_history(history)
    table = by(effort_vs_priority(normalised, OBJECTIVES, period=JANUARY), "objective")
    # January: A-1 still revenue (5h), A-4 not yet deleted (40h), A-2 unaligned (1)
    assert table["revenue"]["effort"] == 45
    assert table["revenue"]["effort_share"] == pytest.approx(45 / 46)
    assert table["compliance"]["items"] == 0


def test_effort_measure_count_and_a_named_column(history):
    counted = by(effort_vs_priority(normalise_history(history, effort="count"), OBJECTIVES),
                 "objective")
    assert [counted[o]["effort_share"] for o in ("revenue", "compliance", "unaligned")] == \
        pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert counted["unaligned"]["unknown_effort_items"] == 0
    points = history.assign(story_points=[2, None, 6, 2, 1, None])
    table = by(effort_vs_priority(normalise_history(points, effort="story_points"),
                                  OBJECTIVES), "objective")
    assert table["compliance"]["effort_share"] == pytest.approx(6 / 9)  # 6 + 2 + unknown 1
    with pytest.raises(ValueError, match="no 'time_spent' column"):
        normalise_history(history, effort="time_spent")
    with pytest.raises(ValueError, match="unknown effort measure 'hours'"):
        normalise_history(history, effort="hours")


def test_unaligned_share_and_largest_items_with_links(history):
    normalised = normalise_history(history)
    share = unaligned_share(normalised)
    assert (share.items, share.total_items) == (1, 3)
    assert share.item_share == pytest.approx(1 / 3)
    assert share.effort_share == pytest.approx(1 / 12)
    top = largest_unaligned(normalised)
    assert top[["item_key", "summary", "url"]].values.tolist() == [
        ["A-2", "Printer", "https://acme.atlassian.net/browse/A-2"]]
    assert math.isnan(top["effort"].iat[0])


def test_score_histogram_and_per_group_statistics(history):
    normalised = normalise_history(history)
    histogram = score_histogram(normalised).set_index("bin")
    assert histogram["items"].to_dict() == {
        "0-9": 1, "10-19": 0, "20-29": 0, "30-39": 0, "40-49": 0, "50-59": 1, "60-69": 1,
        "70-79": 0, "80-89": 0, "90-100": 0}
    assert histogram["share"].sum() == pytest.approx(1.0)
    projects = by(score_summary(normalised, "project"), "project")
    assert (projects["SHOP"]["count"], projects["SHOP"]["mean"]) == (2, 30.0)
    assert projects["PAY"]["median"] == 50
    teams = by(score_summary(normalised, "team"), "team")
    assert set(teams) == {"Web", "Payments", "(none)"}
    assert teams["(none)"]["mean"] == 0
    types = by(score_summary(normalised, "type"), "type")
    assert (types["bug"]["count"], types["bug"]["mean"]) == (2, 25.0)
    with pytest.raises(ValueError, match="cannot group by 'owner'"):
        score_summary(normalised, "owner")  # type: ignore[arg-type]


def test_proactive_and_reactive_shares_overall_and_per_objective(history):
    normalised = normalise_history(history)
    overall = nature_split(normalised).iloc[0]
    assert overall["reactive_item_share"] == pytest.approx(2 / 3)
    assert overall["reactive_effort_share"] == pytest.approx(4 / 12)
    assert overall["proactive_effort_share"] == pytest.approx(8 / 12)
    per_objective = by(nature_split(normalised, by="objective"), "objective")
    assert per_objective["revenue"]["reactive_effort_share"] == 1.0
    assert per_objective["compliance"]["proactive_effort_share"] == 1.0


def test_monthly_trend_counts_each_assessment_in_its_own_month(history):
    normalised = normalise_history(history)
    table = trend(normalised, freq="month")
    assert [b.strftime("%Y-%m-%d") for b in table["bucket"]] == ["2026-01-01", "2026-02-01"]
    january, february = table.to_dict("records")
    assert (january["items"], january["effort"]) == (3, 46.0)  # A-1 revenue 5, A-2 1, A-4 40
    assert january["unaligned_effort_share"] == pytest.approx(1 / 46)
    assert january["mean_score"] == pytest.approx((90 + 0 + 70) / 3)
    assert (february["items"], february["effort"]) == (2, 11.0)  # A-4's deletion counts not
    assert february["reactive_effort_share"] == pytest.approx(3 / 11)
    shares = objective_trend(normalised, OBJECTIVES)
    feb = shares[shares["bucket"] == pd.Timestamp("2026-02-01", tz="UTC")]
    assert dict(zip(feb["objective"], feb["effort_share"])) == pytest.approx(
        {"revenue": 3 / 11, "compliance": 8 / 11})
    nature = nature_trend(normalised, freq="month")
    assert nature["reactive_items"].tolist() == [1, 1]


def test_weekly_buckets_start_on_monday(history):
    table = trend(normalise_history(history), freq="week")
    assert [b.strftime("%Y-%m-%d") for b in table["bucket"]] == ["2026-01-05", "2026-02-02"]
    with pytest.raises(ValueError, match="freq must be 'week' or 'month'"):
        trend(normalise_history(history), freq="day")  # type: ignore[arg-type]


def test_normalise_names_what_is_wrong():
    with pytest.raises(ValueError, match="lacks required column"):
        normalise_history(pd.DataFrame({"item_key": ["A"]}))
    bad = rows({"item_key": "A", "objective": "revenue", "score": 1, "nature": "urgent",
                "assessed_at": "2026-01-01"})
    with pytest.raises(ValueError, match="unknown value.*urgent"):
        normalise_history(bad)


def test_missing_assessed_at_is_dated_now():
    frame = rows({"item_key": "A", "objective": "revenue", "score": 50}).drop(
        columns=[]).assign(nature="proactive")
    normalised = normalise_history(frame, now="2026-03-04T05:06:07Z")
    assert normalised["assessed_at"].iat[0] == pd.Timestamp("2026-03-04T05:06:07Z")
