"""Every hook, exercised through a fresh plugin manager per test (see test_hooks_meta.py)."""
from __future__ import annotations

import logging
import textwrap

import pytest
from itsm_align.plugins import hookimpl
from itsm_align.plugins.manager import DEFAULT_PLUGINS, PluginLoadError, get_plugin_manager
from itsm_align.plugins.ruleset import RulesetError, format_loc
from itsm_align.plugins.ruletypes import ConditionError, FieldEquals, Predicate, RuleType
from itsm_align.scoring.model import assess
from itsm_align.scoring.types import Assessment, Match, Nature, WorkItem

from .conftest import engine_from_yaml

YAML = """
objectives:
  - {id: a, name: Alpha, weight: 5}
  - {id: b, name: Beta, weight: 2}
rules:
  - {id: shop, objective: a, confidence: 0.9, when: {project: SHOP}}
  - {id: boom, objective: b, confidence: 0.5, when: {explode: true}}
  - {id: tier1, objective: b, confidence: 0.6, when: {tier: 1}}
"""


class ExplodingAndTier(RuleType):
    """Two toy rule types: ``explode`` raises at evaluation, ``tier`` indexes a raw field."""

    name = "toy"
    keys = ("explode", "tier")

    def compile(self, key, value):
        if key == "tier":
            if not isinstance(value, int):
                raise ConditionError("tier must be a whole number 1-3")
            return FieldEquals("fields.u_tier", [value])

        def check(item):
            raise RuntimeError("kaboom")

        return Predicate(["summary"], check, "explodes")


class ToyPlugin:
    @hookimpl
    def itsm_align_register_rule_types(self):
        return [ExplodingAndTier()]


def item(**kw) -> WorkItem:
    return WorkItem(platform="jira", key="K-1", **kw)


def test_default_plugins_are_registered_in_order() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    assert sorted(pm.get_name(p) for p in pm.get_plugins()) == sorted(DEFAULT_PLUGINS)
    assert pm.hook.itsm_align_score.get_hookimpls()[0].trylast  # the default model goes last
    assert get_plugin_manager(load_entrypoints=False) is not pm  # fresh every time


def test_register_rule_types_and_a_raising_rule_is_isolated(caplog) -> None:
    pm = get_plugin_manager(load_entrypoints=False, plugins=[ToyPlugin()])
    engine = engine_from_yaml(YAML, pm=pm)
    assert engine.rule_counts_by_type == {"field": 1, "toy": 2}
    with caplog.at_level(logging.WARNING, logger="itsm_align.plugins.engine"):
        a = engine.assess(item(project="SHOP", raw={"u_tier": "1"}))
    assert a.objective == "a" and a.score == 90
    assert [m.rule_id for m in a.matches] == ["shop", "tier1"]
    assert [(e.rule_id, e.message) for e in a.errors] == [("boom", "RuntimeError: kaboom")]
    assert any("rule boom failed on K-1" in r.getMessage() for r in caplog.records)
    x = engine.explain(item(project="SHOP"))
    assert [o.rule_id for o in x.failed] == ["boom"] and [o.rule_id for o in x.fired] == ["shop"]
    assert x.not_fired[0].detail == "fields.u_tier is empty, not 1"


def test_rule_type_compile_errors_and_key_clashes_are_config_problems() -> None:
    pm = get_plugin_manager(load_entrypoints=False, plugins=[ToyPlugin()])
    with pytest.raises(RulesetError) as info:
        engine_from_yaml(YAML.replace("tier: 1", "tier: high"), pm=pm)
    assert [(format_loc(p.loc), p.message) for p in info.value.problems] == [
        ("rules[2].when.tier", "tier must be a whole number 1-3")]

    class Clash(RuleType):
        name = "clash"
        keys = ("project", "not")

    class Junk:
        @hookimpl
        def itsm_align_register_rule_types(self):
            return [Clash(), "not a rule type"]

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Junk()])
    with pytest.raises(RulesetError) as info:
        engine_from_yaml(YAML.split("  - {id: boom")[0], pm=pm)
    messages = [p.message for p in info.value.problems]
    assert any("not a RuleType" in m for m in messages)
    assert any("claims the when: key 'project', which 'field' already handles" in m for m in messages)
    assert any("claims the when: key 'not'" in m for m in messages)


def test_match_hook_contributes_and_is_isolated(caplog) -> None:
    class Contributor:
        @hookimpl
        def itsm_align_match(self, item, objectives):
            assert [o.id for o in objectives] == ["a", "b"]
            if "cmdb" in item.summary:
                yield Match("b", 0.8, "cmdb-lookup", "CI is tier 1", Nature.REACTIVE)

    class Broken:
        @hookimpl
        def itsm_align_match(self, item):
            raise ValueError("lookup down")

    class Junk:
        @hookimpl
        def itsm_align_match(self):
            return ["not a match"]

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Contributor(), Broken(), Junk()])
    engine = engine_from_yaml(YAML.split("  - {id: boom")[0], pm=pm)
    a = engine.assess(item(summary="cmdb says"))
    assert (a.objective, a.score, a.nature) == ("b", 32, Nature.REACTIVE)
    errors = {e.rule_id.split(":")[0]: e.message for e in a.errors}
    assert set(errors) == {"plugin"} and len(a.errors) == 2
    assert any("lookup down" in e.message for e in a.errors)
    assert any("must yield Match objects" in e.message for e in a.errors)


def test_score_hook_overrides_falls_through_and_falls_back() -> None:
    calls = []

    class Flat:
        @hookimpl
        def itsm_align_score(self, item, matches, objectives, settings, ruleset_version, errors):
            calls.append(len(matches))
            if item.key == "PASS":
                return None  # no opinion: the default model decides
            a = assess(item, matches, objectives, settings=settings, ruleset_version=ruleset_version,
                       errors=errors)
            return Assessment(a.item_key, a.platform, a.objective, 100 if a.aligned else 0, a.nature,
                              "flat: " + a.rationale, a.evidence, a.ruleset_version)

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Flat()])
    engine = engine_from_yaml(YAML.split("  - {id: boom")[0], pm=pm)
    a = engine.assess(item(project="SHOP"))
    assert (a.score, a.rationale[:6], a.ruleset_version) == (100, "flat: ", engine.version)
    b = engine.assess(WorkItem(platform="jira", key="PASS", project="SHOP"))
    assert b.score == 90 and calls == [1, 1]

    class Raises:
        @hookimpl
        def itsm_align_score(self, item):
            raise KeyError("oops")

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Raises()])
    engine = engine_from_yaml(YAML.split("  - {id: boom")[0], pm=pm)
    a = engine.assess(item(project="SHOP"))
    assert a.score == 90 and [e.rule_id for e in a.errors] == ["plugin:score"]


def test_assessed_hook_observes_every_assessment_and_cannot_break_it() -> None:
    seen: list[tuple[str, str]] = []

    class Observer:
        @hookimpl
        def itsm_align_assessed(self, item, assessment):
            seen.append((item.key, assessment.objective))

    class Grumpy:
        @hookimpl
        def itsm_align_assessed(self, assessment):
            raise RuntimeError("metrics down")

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Observer(), Grumpy()])
    engine = engine_from_yaml(YAML.split("  - {id: boom")[0], pm=pm)
    a = engine.assess(item(project="SHOP"))
    engine.explain(WorkItem(platform="jira", key="K-2"))
    assert seen == [("K-1", "a"), ("K-2", "unaligned")] and a.errors == ()


def test_broken_entry_point_names_itself(tmp_path, monkeypatch) -> None:
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""
        [itsm_align]
        broken = no_such_module_itsm_align_test
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginLoadError) as info:
        get_plugin_manager()
    msg = str(info.value)
    assert "plugin 'broken' (no_such_module_itsm_align_test, from distribution broken-plugin)" in msg
    assert "pip uninstall broken-plugin" in msg
    # without entry points the same environment works
    assert get_plugin_manager(load_entrypoints=False).get_plugin("broken") is None


def test_a_rule_type_that_crashes_while_compiling_is_a_config_problem() -> None:
    class Buggy(RuleType):
        name = "buggy"
        keys = ("buggy", "truthy")

        def compile(self, key, value):
            if key == "truthy":
                return Predicate([], lambda item: True, "always true")
            return {}["missing"]

    class Plugin:
        @hookimpl
        def itsm_align_register_rule_types(self):
            return [Buggy()]

    pm = get_plugin_manager(load_entrypoints=False, plugins=[Plugin()])
    head = "objectives: [{id: a, name: A, weight: 1}]\nrules:\n"
    with pytest.raises(RulesetError) as info:
        engine_from_yaml(head + "  - {id: x, objective: a, confidence: 1, when: {buggy: 1}}\n", pm=pm)
    (problem,) = info.value.problems
    assert format_loc(problem.loc) == "rules[0].when.buggy" and "rule type 'buggy' failed" in problem.message
    engine = engine_from_yaml(head + "  - {id: t, objective: a, confidence: 1, when: {truthy: 1}}\n", pm=pm)
    assert engine.assess(item()).rationale == "A (100): t: always true"
