"""The admin's rule file from issue 2 (config/example-minimal.yaml) behaves as its comments say."""
from __future__ import annotations

from itsm_align.scoring.types import (
    UNALIGNED,
    Assessment,
    Nature,
    OutputValues,
    SetBy,
    WorkItem,
)

from .conftest import MINIMAL


def item(key: str = "X-1", **kw) -> WorkItem:
    return WorkItem(platform="jira", key=key, **kw)


def test_file_is_the_one_from_the_issue() -> None:
    text = MINIMAL.read_text(encoding="utf-8")
    for rule in ("shop-projects", "gdpr-words", "email-changes", "custom-field", "from-parent"):
        assert f"- id: {rule}" in text
    assert "{project: [SHOP, PAY]}" in text


def test_shop_projects_gives_revenue_90(minimal) -> None:
    for project in ("SHOP", "PAY"):
        a = minimal.assess(item(project=project, type="story"))
        assert (a.objective, a.score) == ("revenue", 90)
        assert a.evidence[0].evidence == 0.9
        assert a.rationale.startswith("Grow online revenue (90): shop-projects: project is " + project)


def test_gdpr_words_whole_word_or_phrase_any_case_gives_compliance_56(minimal) -> None:
    hits = [
        item(summary="GDPR export for customers"),
        item(description="Handle the Data   Subject request within 30 days."),
        item(summary="Run a DPIA."),
    ]
    for it in hits:
        a = minimal.assess(it)
        assert (a.objective, a.score) == ("compliance", 56), it
        assert "gdpr-words" in a.rationale
    for miss in (item(summary="gdprs and dpiax"), item(description="datasubject"), item(summary="subject data")):
        assert minimal.assess(miss).objective == UNALIGNED, miss


def test_email_changes_need_both_conditions_cost_24_proactive(minimal) -> None:
    a = minimal.assess(item(business_service="Email", type="problem"))
    assert (a.objective, a.score, a.nature) == ("cost", 24, Nature.PROACTIVE)
    # a bug is reactive by type, but the rule declares proactive
    a = minimal.assess(item(business_service="Email", type="bug"))
    assert (a.objective, a.score, a.nature) == ("cost", 24, Nature.PROACTIVE)
    # an incident fails the `not`, another service fails the first condition
    assert minimal.assess(item(business_service="Email", type="incident")).objective == UNALIGNED
    assert minimal.assess(item(business_service="Teams", type="change")).objective == UNALIGNED


def test_custom_field_select_option_compares_by_its_value(minimal) -> None:
    for raw in ({"customfield_10070": "Checkout"},
                {"customfield_10070": {"self": "https://x/rest/api/3/customFieldOption/10", "value": "Checkout",
                                       "id": "10"}},
                {"customfield_10070": [{"value": "Search"}, {"value": "Checkout"}]}):
        a = minimal.assess(item(raw=raw))
        assert (a.objective, a.score) == ("revenue", 50), raw
        assert "custom-field" in a.rationale
    assert minimal.assess(item(raw={"customfield_10070": {"value": "Search"}})).objective == UNALIGNED


def test_from_parent_inherits_with_decay_when_nothing_else_matched(minimal) -> None:
    parent = minimal.assess(item("SHOP-1", project="SHOP", type="epic"))
    child = minimal.assess(item("X-9", parent="SHOP-1"), related={"SHOP-1": parent}.get)
    assert child.objective == "revenue"
    assert abs(child.evidence[0].evidence - 0.9 * 0.8) < 1e-9
    assert child.score == 72
    assert "from-parent" in child.rationale and "SHOP-1" in child.rationale
    # an own match wins: inheritance does not apply at all
    own = minimal.assess(item("X-10", parent="SHOP-1", summary="gdpr"), related={"SHOP-1": parent}.get)
    assert own.objective == "compliance"
    assert [m.rule_id for m in own.matches] == ["gdpr-words"]


def test_shop_and_gdpr_gives_revenue_90_and_names_both_rules(minimal) -> None:
    a = minimal.assess(item(project="SHOP", summary="GDPR cookie banner"))
    assert (a.objective, a.score) == ("revenue", 90)  # 0.9 x 5 beats 0.7 x 4
    assert "shop-projects" in a.rationale and "gdpr-words" in a.rationale
    assert [e.objective for e in a.evidence] == ["revenue", "compliance"]
    assert a.rationale == ("Grow online revenue (90): shop-projects: project is SHOP; "
                           "also Stay compliant: gdpr-words (text mentions 'gdpr')")


def test_nothing_is_unaligned_0(minimal) -> None:
    a: Assessment = minimal.assess(item(project="OPS", summary="Reboot the printer", type="incident"))
    assert (a.objective, a.score, a.aligned) == (UNALIGNED, 0, False)
    assert a.nature is Nature.REACTIVE
    assert a.rationale == "Unaligned (0): no rule matched"
    assert a.ruleset_version == minimal.version


def test_person_override_stands(minimal) -> None:
    it = item(project="SHOP", current=OutputValues(objective="cost", objective_set_by=SetBy.PERSON))
    a = minimal.assess(it)
    assert (a.objective, a.overridden, a.score) == ("cost", True, 40)  # 1.0 x 2 / 5
    assert "set by a person" in a.rationale
    assert a.output().objective_set_by is SetBy.PERSON
