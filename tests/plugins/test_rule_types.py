"""Built-in rule types, from YAML: fields, text, regex, combinators, inheritance."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from itsm_align.scoring.types import UNALIGNED, WorkItem

from .conftest import engine_from_yaml

HEAD = """
objectives:
  - {id: a, name: Alpha, weight: 5}
  - {id: b, name: Beta, weight: 3}
rules:
"""


def one_rule(when: str, **extra: str) -> object:
    more = "".join(f"\n    {k}: {v}" for k, v in extra.items())
    return engine_from_yaml(HEAD + f"  - id: r\n    objective: a\n    confidence: 1.0\n    when: {when}{more}\n")


def hit(engine, **kw) -> bool:
    return engine.assess(WorkItem(platform="jira", key="K-1", **kw)).objective == "a"


# ---------------------------------------------------------------- fields

def test_equals_is_case_insensitive_and_numbers_compare_as_numbers() -> None:
    e = one_rule("{priority: High}")
    assert hit(e, priority="high") and hit(e, priority=" HIGH ") and not hit(e, priority="Highest")
    e = one_rule("{fields.u_tier: 1}")
    assert hit(e, raw={"u_tier": "1"}) and hit(e, raw={"u_tier": 1.0}) and not hit(e, raw={"u_tier": "10"})


def test_any_of_and_list_fields_match_any_element() -> None:
    e = one_rule("{labels: [gdpr, privacy]}")
    assert hit(e, labels=("ops", "Privacy")) and not hit(e, labels=("ops",)) and not hit(e)
    e = one_rule("{components: Checkout}")
    assert hit(e, components=("Search", "Checkout"))


def test_numeric_comparisons() -> None:
    e = one_rule("{effort: {gt: 8, lte: 40}}")
    assert hit(e, effort=9) and hit(e, effort=40) and not hit(e, effort=8) and not hit(e, effort=41)
    assert not hit(e)  # no effort: no match
    e = one_rule("{fields.story_points: {gte: 5}}")
    assert hit(e, raw={"story_points": "5"}) and not hit(e, raw={"story_points": "abc"})


def test_date_comparisons() -> None:
    e = one_rule("{created: {gte: 2026-01-01}}")
    assert hit(e, created=datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert not hit(e, created=datetime(2025, 12, 31, 23, 0))


def test_is_empty_and_is_set() -> None:
    e = one_rule("{assignee: null}")
    assert hit(e) and hit(e, assignee="") and not hit(e, assignee="ann")
    e = one_rule("{fields.customfield_1: {empty: false}}")
    assert hit(e, raw={"customfield_1": {"value": "x"}}) and not hit(e, raw={"customfield_1": None})
    assert not hit(e)


def test_equality_and_comparison_in_one_mapping_must_both_hold() -> None:
    e = one_rule("{effort: {in: [1, 2, 3], gt: 1}}")
    assert hit(e, effort=2) and not hit(e, effort=1) and not hit(e, effort=5)


def test_several_keys_in_one_mapping_all_hold() -> None:
    e = one_rule("{project: SHOP, type: story}")
    assert hit(e, project="SHOP", type="story") and not hit(e, project="SHOP", type="bug")


# ---------------------------------------------------------------- text

def test_text_any_all_case_whole_words_phrases() -> None:
    e = one_rule('{text: {all: [invoice, "credit card"]}}')
    assert hit(e, summary="Invoice failed", description="the CREDIT\ncard was declined")
    assert not hit(e, summary="Invoice failed") and not hit(e, summary="invoices by credit card")
    e = one_rule("{text: [pci, sox]}")
    assert hit(e, summary="SOX audit") and hit(e, description="(PCI)") and not hit(e, summary="pcix")
    e = one_rule("{text: café}")
    assert hit(e, summary="Café opening") and not hit(e, summary="cafés")


def test_odd_text_does_not_break_matching() -> None:
    e = one_rule("{text: gdpr}")
    assert hit(e, summary="GDPR \ud800 broken surrogate", description="nul \x00 byte")
    assert not hit(e, summary=None, description=None)  # type: ignore[arg-type]
    assert not one_rule("{text: none}").assess(WorkItem(platform="jira", key="K", summary=None)).aligned


def test_text_keyword_with_punctuation_edges() -> None:
    e = one_rule('{text: "c++"}')
    assert hit(e, summary="port to C++ now") and not hit(e, summary="port to c now")


# ---------------------------------------------------------------- regex

def test_regex_on_text_and_on_fields() -> None:
    e = one_rule(r"{regex: 'INC\d{7}'}")
    assert hit(e, description="see INC0012345") and not hit(e, description="see INC12")
    e = one_rule(r"{regex: {summary: '(?i)^\[sec\]', assignment_group: '^NET-'}}")
    assert hit(e, summary="[SEC] firewall", assignment_group="NET-EU")
    assert not hit(e, summary="[SEC] firewall", assignment_group="DB")
    e = one_rule(r"{regex: {fields.u_ci_class: '^cmdb_ci_(linux|win)'}}")
    assert hit(e, raw={"u_ci_class": {"value": "cmdb_ci_linux_server"}})


def test_regex_is_case_sensitive_unless_asked() -> None:
    e = one_rule("{regex: PCI}")
    assert hit(e, summary="PCI scope") and not hit(e, summary="pci scope")


# ---------------------------------------------------------------- combinators

def test_any_all_not_nest() -> None:
    e = one_rule("{any: [{project: SHOP}, {all: [{text: checkout}, {not: {type: [incident, bug]}}]}]}")
    assert hit(e, project="SHOP", type="incident")
    assert hit(e, summary="checkout flow", type="story")
    assert not hit(e, summary="checkout flow", type="bug")
    assert not hit(e, summary="other")


def test_bare_not_matches_everything_else() -> None:
    e = one_rule("{not: {project: OPS}}")
    assert hit(e, project="SHOP") and hit(e) and not hit(e, project="ops")


def test_a_list_under_when_means_all() -> None:
    e = one_rule("[{project: SHOP}, {text: gdpr}]")
    assert hit(e, project="SHOP", summary="gdpr") and not hit(e, project="SHOP")


def test_disabled_rule_never_fires() -> None:
    e = one_rule("{project: SHOP}", enabled="false")
    assert not hit(e, project="SHOP") and e.rule_count == 0


# ---------------------------------------------------------------- inheritance

INHERIT = HEAD + """  - {id: shop, objective: a, confidence: 0.9, when: {project: SHOP}}
  - {id: beta, objective: b, confidence: 0.5, when: {text: beta}}
  - {id: up, inherit: %s%s}
"""


@pytest.mark.parametrize("relation,item_kw,key", [
    ("parent", {"parent": "SHOP-1"}, "SHOP-1"),
    ("epic", {"raw": {"epic": "SHOP-1"}}, "SHOP-1"),
    ("epic", {"parent": "SHOP-1"}, "SHOP-1"),
    ("project", {"project": "PRJ7"}, "PRJ7"),
])
def test_inherit_relations(relation, item_kw, key) -> None:
    e = engine_from_yaml(INHERIT % (relation, ", decay: 0.5"))
    parent = e.assess(WorkItem(platform="jira", key="SHOP-1", project="SHOP"))
    seen = []

    def related(k):
        seen.append(k)
        return parent

    a = e.assess(WorkItem(platform="jira", key="X-1", **item_kw), related=related)
    assert seen == [key]
    assert a.objective == "a" and abs(a.evidence[0].evidence - 0.45) < 1e-9 and a.score == 45


def test_inherit_default_decay_comes_from_scoring_settings() -> None:
    e = engine_from_yaml(INHERIT % ("parent", "") + "scoring: {inherit_default_decay: 0.5}\n")
    parent = e.assess(WorkItem(platform="jira", key="SHOP-1", project="SHOP"))
    a = e.assess(WorkItem(platform="jira", key="X-1", parent="SHOP-1"), related={"SHOP-1": parent})
    assert a.score == 45


def test_inherit_skips_unaligned_missing_and_overridden_parents_behave() -> None:
    from itsm_align.scoring.types import OutputValues, SetBy

    e = engine_from_yaml(INHERIT % ("parent", ", decay: 0.8"))
    child = WorkItem(platform="jira", key="X-1", parent="P-1")
    unaligned = e.assess(WorkItem(platform="jira", key="P-1"))
    assert e.assess(child, related={"P-1": unaligned}).objective == UNALIGNED
    assert e.assess(child, related={}).objective == UNALIGNED
    assert e.assess(child).objective == UNALIGNED
    person = e.assess(WorkItem(platform="jira", key="P-1",
                               current=OutputValues(objective="b", objective_set_by=SetBy.PERSON)))
    a = e.assess(child, related={"P-1": person})
    assert (a.objective, a.score) == ("b", round(100 * 0.8 * 3 / 5))
    why = {o.rule_id: o.detail for o in e.explain(child, related={"P-1": unaligned}).not_fired}
    assert why["up"] == "parent P-1 is unaligned"
