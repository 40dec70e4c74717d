"""scoring/records.py: ticket records <-> WorkItem / flat assessment records."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from itsm_align.scoring.records import (
    RECORD_COLUMNS,
    RecordError,
    assessment_to_record,
    item_from_record,
    parents_first,
    records_from_text,
    records_to_csv,
)
from itsm_align.scoring.types import (
    Assessment, Evidence, Match, Nature, RuleError, SetBy, WorkItem,
)


def test_json_record_becomes_a_work_item():
    item = item_from_record({
        "platform": "jira", "key": "SHOP-1", "type": "Story", "project": "SHOP",
        "summary": "One-page checkout", "labels": ["q3", "web"], "components": "Checkout, Cart",
        "effort": "8", "created": "2026-06-02T09:15:00+00:00", "parent": "SHOP-0",
        "fields": {"customfield_10070": {"value": "Checkout"}},
        "current": {"objective": "cost", "score": 40, "nature": "Proactive", "set_by": "person"},
    }, 0)
    assert item.platform == "jira" and item.key == "SHOP-1" and item.kind == "ticket"
    assert item.type == "story"  # normalised to lower case like the adapters do
    assert item.labels == ("q3", "web") and item.components == ("Checkout", "Cart")
    assert item.effort == 8.0
    assert item.created == datetime(2026, 6, 2, 9, 15, tzinfo=timezone.utc)
    assert item.raw == {"customfield_10070": {"value": "Checkout"}}
    assert item.current.objective == "cost" and item.current.score == 40.0
    assert item.current.nature is Nature.PROACTIVE
    assert item.current.objective_set_by is SetBy.PERSON


def test_csv_row_with_dotted_columns_and_blank_cells():
    item = item_from_record({
        "platform": "servicenow", "key": "INC0010020", "type": "incident", "project": "incident",
        "summary": "Shop down", "labels": "", "effort": "", "parent": "",
        "fields.category": "software", "fields.impact": "", "current.objective": "reliability",
        "current.set_by": "",
    }, 3)
    assert item.raw == {"category": "software"}
    assert item.labels == () and item.effort is None and item.parent is None
    # a current value with no stated setter is ours, never a human override
    assert item.current.objective == "reliability"
    assert item.current.objective_set_by is SetBy.INTEGRATION


def test_defaults():
    item = item_from_record({"key": "X-1"})
    assert item.platform == "file" and item.kind == "ticket" and item.summary == ""
    assert item.current.objective is None and item.current.objective_set_by is SetBy.NOBODY


@pytest.mark.parametrize("record,key,fragment", [
    ({"summary": "no key"}, "key", "is required"),
    ({"key": "A-1", "effort": "lots"}, "effort", "must be a number"),
    ({"key": "A-1", "created": "yesterday"}, "created", "ISO 8601"),
    ({"key": "A-1", "labels": [1, 2]}, "labels", "list of strings"),
    ({"key": "A-1", "platform": "github"}, "platform", "jira, servicenow, file"),
    ({"key": "A-1", "kind": "epic"}, "kind", "ticket, project"),
    ({"key": "A-1", "sumary": "typo"}, "sumary", "unknown key"),
    ({"key": "A-1", "fields": ["not", "a", "dict"]}, "fields", "object"),
    ({"key": "A-1", "current": {"objective": "x", "who": "me"}}, "current.who", "unknown key"),
    ({"key": "A-1", "current": {"objective": "x", "nature": "planned"}}, "current.nature",
     "proactive, reactive"),
    ({"key": "A-1", "current.set_by": "robot", "current.objective": "x"}, "current.set_by",
     "person"),
    ({"key": {"nested": 1}}, "key", "must be text"),
])
def test_bad_values_name_record_and_key(record, key, fragment):
    with pytest.raises(RecordError) as info:
        item_from_record(record, 7)
    assert info.value.index == 7 and info.value.key == key
    assert str(info.value).startswith(f"record[7] key '{key}': ")
    assert fragment in str(info.value)


def test_records_from_text_formats():
    assert records_from_text('[{"key": "A"}, {"key": "B"}]', "json") == [{"key": "A"}, {"key": "B"}]
    assert records_from_text('{"key": "A"}', ".json") == [{"key": "A"}]
    assert records_from_text('{"key": "A"}\n\n{"key": "B"}\n', "json") == [{"key": "A"},
                                                                          {"key": "B"}]
    assert records_from_text('{"key": "A"}\n', "jsonl") == [{"key": "A"}]
    assert records_from_text("key,summary\nA,hello\n", "csv") == [{"key": "A", "summary": "hello"}]


@pytest.mark.parametrize("text,fmt,fragment", [
    ('[{"key": "A"},', "json", "invalid JSON at line 1"),
    ('{"key": "A"}\nnot json\n', "jsonl", "record[1]: invalid JSON on line 2"),
    ("[1, 2]", "json", "record[0]: expected an object"),
    ("key\nA,extra\n", "csv", "CSV line 2 has more cells"),
    ("key\n", "xlsx", "unknown ticket file format"),
])
def test_records_from_text_errors(text, fmt, fragment):
    with pytest.raises(RecordError) as info:
        records_from_text(text, fmt)
    assert fragment in str(info.value)


def test_parents_first_orders_parents_and_projects_before_children():
    child = WorkItem(platform="file", key="C", parent="P")
    grandchild = WorkItem(platform="file", key="G", parent="C")
    parent = WorkItem(platform="file", key="P", project="PRJ1")
    project = WorkItem(platform="file", key="PRJ1", kind="project")
    loner = WorkItem(platform="file", key="L", parent="ELSEWHERE")
    ordered = [i.key for i in parents_first([grandchild, loner, child, parent, project])]
    assert ordered == ["PRJ1", "P", "C", "G", "L"]


def test_parents_first_survives_cycles():
    a = WorkItem(platform="file", key="A", parent="B")
    b = WorkItem(platform="file", key="B", parent="A")
    assert sorted(i.key for i in parents_first([a, b])) == ["A", "B"]


def test_assessment_to_record_is_flat():
    assessment = Assessment(
        item_key="SHOP-1", platform="jira", objective="revenue", score=90,
        nature=Nature.PROACTIVE, rationale="Grow online revenue 90: project is SHOP",
        evidence=(Evidence("revenue", 0.9, (Match("revenue", 0.9, "shop-projects", "project is SHOP"),
                                            Match("revenue", 0.5, "checkout-field", "x"))),
                  Evidence("compliance", 0.7, (Match("compliance", 0.7, "gdpr-words", "y"),))),
        ruleset_version="abc123", errors=(RuleError("broken", "boom"),))
    record = assessment_to_record(assessment, {"revenue": "Grow online revenue"})
    assert tuple(record) == RECORD_COLUMNS
    assert record["objective_name"] == "Grow online revenue"
    assert record["nature"] == "proactive" and record["score"] == 90
    assert record["matched_rules"] == "shop-projects, checkout-field, gdpr-words"
    assert record["errors"] == "broken: boom"
    assert all(not isinstance(v, (dict, list, tuple)) for v in record.values())
    csv_text = records_to_csv([record])
    assert csv_text.splitlines()[0] == ",".join(RECORD_COLUMNS)
    assert records_from_text(csv_text, "csv")[0]["key"] == "SHOP-1"
