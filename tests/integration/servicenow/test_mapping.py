"""Pure mapping helpers: durations, times, which columns change."""
from __future__ import annotations

import pytest

from itsm_align.integration.servicenow.adapter import latest_audit, rollup_values
from itsm_align.integration.servicenow.mapping import column_changes, duration_hours, parse_time, trim
from itsm_align.integration.servicenow.settings import ServiceNowColumns
from itsm_align.scoring.types import Nature, OutputValues, SetBy

COLS = ServiceNowColumns()


@pytest.mark.parametrize("text, hours", [("1970-01-01 02:30:00", 2.5), ("5400", 1.5), ("", None),
                                         ("1970-01-01 00:00:00", None), ("garbage", None)])
def test_duration_hours(text, hours):
    assert duration_hours(text) == (pytest.approx(hours) if hours else None)


def test_parse_time_is_utc():
    moment = parse_time("2026-11-27 02:00:00")
    assert moment is not None and moment.utcoffset().total_seconds() == 0 and moment.hour == 2
    assert parse_time("") is None and parse_time("yesterday") is None


def test_changes_compare_scores_as_numbers_and_respect_override():
    current = OutputValues("cost", 72.0, "why", Nature.PROACTIVE, SetBy.PERSON)
    assert column_changes(current, OutputValues("revenue", 72, "why", Nature.PROACTIVE), COLS, 255) == {}
    assert column_changes(current, OutputValues(None, 71.6, None, Nature.REACTIVE), COLS, 255) == {
        "u_work_nature": "reactive"}
    mine = OutputValues("cost", None, None, None, SetBy.INTEGRATION)
    assert column_changes(mine, OutputValues("revenue"), COLS, 255) == {"u_business_objective": "revenue"}


def test_trim_marks_the_cut():
    assert trim("a  b\n c", 10) == "a b c"
    assert trim("x" * 50, 40) == "x" * 39 + "…"


def test_latest_audit_breaks_same_second_ties_by_checkpoint():
    rows = [{"documentkey": {"value": "d"}, "user": {"value": "svc"}, "sys_created_on": {"value": "2026-01-01 00:00:00"},
             "record_checkpoint": {"value": "9"}},
            {"documentkey": {"value": "d"}, "user": {"value": "pat"}, "sys_created_on": {"value": "2026-01-01 00:00:00"},
             "record_checkpoint": {"value": "10"}}]
    assert latest_audit(rows) == {"d": "pat"}


def test_rollup_values_from_a_mapping():
    values = rollup_values({"objective": "revenue", "score": 55, "rationale": "r", "nature": "reactive"})
    assert values == OutputValues("revenue", 55.0, "r", Nature.REACTIVE)
