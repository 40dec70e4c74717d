"""Engine surface other parts rely on: version, counts, fields read, explain."""
from __future__ import annotations

from itsm_align.scoring.types import WorkItem

from .conftest import MINIMAL, engine_from_yaml


def test_version_is_stable_and_tracks_changes(minimal) -> None:
    text = MINIMAL.read_text(encoding="utf-8")
    assert engine_from_yaml(text).version == minimal.version
    assert len(minimal.version) == 12
    assert engine_from_yaml(text.replace("confidence: 0.9", "confidence: 0.8")).version != minimal.version
    assert engine_from_yaml(text.replace("weight: 2}", "weight: 3}")).version != minimal.version
    assert engine_from_yaml(text + "scoring: {default_nature: reactive}\n").version != minimal.version


def test_counts_and_fields_read(minimal) -> None:
    assert minimal.rule_count == 5
    assert minimal.rule_counts_by_type == {"field": 3, "text": 1, "inherit": 1}
    assert minimal.fields_read == {"project", "summary", "description", "business_service", "type",
                                   "fields.customfield_10070", "parent"}
    assert [o.id for o in minimal.objectives] == ["revenue", "compliance", "cost"]


def test_explain_tells_every_rule(minimal) -> None:
    x = minimal.explain(WorkItem(platform="jira", key="X-1", project="PAY", summary="dpia",
                                 business_service="Email", type="incident"))
    assert (x.assessment.objective, x.assessment.score) == ("revenue", 90)
    by_rule = {o.rule_id: (o.status, o.detail) for o in x.rules}
    assert by_rule == {
        "shop-projects": ("fired", "project is PAY"),
        "gdpr-words": ("fired", "text mentions 'dpia'"),
        "email-changes": ("not fired", "type is incident"),
        "custom-field": ("not fired", "fields.customfield_10070 is empty, not Checkout"),
        "from-parent": ("skipped", "the item has matches of its own"),
    }
    assert x.assessment == minimal.assess(WorkItem(platform="jira", key="X-1", project="PAY", summary="dpia",
                                                   business_service="Email", type="incident"))
    assert [o.rule_id for o in x.not_fired] == ["email-changes", "custom-field", "from-parent"]


def test_related_may_be_a_mapping_or_a_callable(minimal) -> None:
    parent = minimal.assess(WorkItem(platform="jira", key="P-1", project="SHOP"))
    child = WorkItem(platform="jira", key="C-1", parent="P-1")
    assert minimal.assess(child, related={"P-1": parent}) == minimal.assess(child, related=lambda k: parent)
