"""Rule quality, the survey side-by-side table and the rule-change transition table."""
from __future__ import annotations

import pandas as pd
import pytest

from itsm_align.reports import (
    NOT_ASSESSED, latest_round, normalise_history, normalise_survey, rule_lists,
    rule_quality, survey_comments, survey_table, transition_lines, transition_table,
)

from .conftest import OBJECTIVES, RULES


def test_fired_override_rate_never_fired_and_disagreements(history):
    quality = rule_quality(normalise_history(history), RULES)
    table = quality.rules.set_index("rule_id")
    assert table.loc["shop", "fired"] == 2  # A-1 and A-3 (A-4 deleted)
    assert table.loc["shop", "overrides"] == 1  # A-1 overridden to compliance
    assert table.loc["shop", "override_rate"] == pytest.approx(0.5)
    assert table.loc["shop", "override_examples"] == ("A-1",)
    assert table.loc["gdpr", "overrides"] == 0  # the person chose gdpr's own objective
    assert pd.isna(table.loc["from-parent", "overrides"])  # inherit rules have no objective
    assert quality.never_fired == ("audit", "dormant", "from-parent")
    assert quality.disagreements[["item_key", "rule_objectives", "rules"]].values.tolist() == [
        ["A-1", "compliance, revenue", "gdpr, shop"]]


def test_rule_quality_within_a_period(history):
    quality = rule_quality(normalise_history(history), RULES, period=("2026-01-01", "2026-02-01"))
    table = quality.rules.set_index("rule_id")
    assert table.loc["shop", "fired"] == 2  # A-1 (January), A-4 (not yet deleted)
    assert "gdpr" in quality.never_fired
    assert quality.disagreements.empty


def test_rule_ids_as_stored_json_as_file_text_or_as_lists():
    column = pd.Series(['["a", "b"]', "c, d", ["e"], None, "", "[]"])
    assert rule_lists(column).tolist() == [["a", "b"], ["c", "d"], ["e"], [], [], []]
    with pytest.raises(ValueError, match="not a JSON list of rule ids"):
        rule_lists(pd.Series(['["a"', '["b"]']))


@pytest.fixture
def survey() -> pd.DataFrame:
    return pd.DataFrame({
        "round": ["2026-Q1"] * 4,
        "respondent": ["ana", "ana", "ben", "ben"],
        "department": ["Sales", "Sales", "Legal", "Legal"],
        "objective": ["revenue", "compliance", "revenue", "compliance"],
        "importance": [5, 4, 3, 4],
        "satisfaction": [1, 3, 2, 5],
        "comment": ["Checkout is slow", "", None, "Audits went well"],
    })


def test_survey_side_by_side_with_flags(history, survey):
    table = survey_table(survey, OBJECTIVES, normalise_history(history)).set_index("objective")
    revenue = table.loc["revenue"]
    assert (revenue["responses"], revenue["importance_mean"], revenue["satisfaction_mean"]) == \
        (2, 4.0, 1.5)
    assert revenue["importance_share"] == pytest.approx(0.5)
    assert revenue["priority_share"] == pytest.approx(0.75)
    assert revenue["effort_share"] == pytest.approx(0.25)
    assert revenue["flags"] == ("priority vs effort; importance vs effort; "
                                "priority vs importance; important but unsatisfied")
    assert table.loc["compliance", "flagged"]
    assert "important but unsatisfied" not in table.loc["compliance", "flags"]


def test_survey_comments_grouped_by_objective_in_declared_order(survey):
    comments = survey_comments(survey, OBJECTIVES)
    assert comments[["objective", "department", "comment"]].values.tolist() == [
        ["revenue", "Sales", "Checkout is slow"], ["compliance", "Legal", "Audits went well"]]


def test_rounds_sort_by_name_or_by_an_ordered_categorical(survey):
    two = pd.concat([survey.assign(round="Spring"), survey.assign(round="Autumn")])
    assert latest_round(normalise_survey(two)) == "Spring"
    two["round"] = pd.Categorical(two["round"], categories=["Spring", "Autumn"], ordered=True)
    assert latest_round(normalise_survey(two)) == "Autumn"


def test_survey_values_out_of_range_name_the_rows(survey):
    survey.loc[2, "importance"] = 7
    with pytest.raises(ValueError, match=r"'importance' must hold whole numbers 1..5; .*row\(s\) 2"):
        normalise_survey(survey)
    with pytest.raises(ValueError, match="lack column"):
        normalise_survey(survey.drop(columns="satisfaction"))


def test_transition_table_counts_items_effort_and_examples():
    before = pd.Series({"A": "revenue", "B": "revenue", "C": "unaligned"})
    after = pd.Series({"A": "compliance", "B": "revenue", "D": "cost"})
    effort = pd.Series({"A": 5.0, "B": None, "D": 2.0})
    table = transition_table(before, after, effort)
    assert table[["before", "after", "items", "effort", "changed"]].values.tolist() == [
        ["revenue", "compliance", 1, 5.0, True],
        [NOT_ASSESSED, "cost", 1, 2.0, True],
        ["unaligned", NOT_ASSESSED, 1, 1.0, True],
        ["revenue", "revenue", 1, 1.0, False],
    ]
    assert table["examples"].iat[0] == ("A",)
    lines = transition_lines(table, OBJECTIVES)
    assert lines[0] == "3 of 4 items change objective; 8 effort moves."
    assert lines[1] == "Grow online revenue -> Stay compliant: 1 item, 5 effort (A)"
