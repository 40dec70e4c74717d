"""A broken rule set is refused with every problem located from the config root."""
from __future__ import annotations

import pytest
from itsm_align.plugins.engine import build_engine
from itsm_align.plugins.ruleset import RulesetError, format_loc

from .conftest import engine_from_yaml, load_yaml

BROKEN = """
objectives:
  - {id: revenue, name: Grow online revenue, weight: 5}
  - {id: revenue, name: Again, weight: 3}
  - {id: Bad Id, name: X, weight: 9}
rules:
  - {id: ok, objective: revenue, confidence: 0.5, when: {project: SHOP}}
  - {id: ok, objective: revenue, confidence: 0.5, when: {project: PAY}}
  - {id: ghost, objective: growth, confidence: 0.5, when: {project: X}}
  - id: bad-regex
    objective: revenue
    confidence: 0.5
    when: {all: [{project: SHOP}, {regex: '(?<=a)b'}]}
  - {id: typo, objective: revenue, confidence: 0.5, when: {projct: SHOP}}
  - {id: conf, objective: revenue, confidence: 1.5, when: {project: SHOP}}
  - {id: extra, objective: revenue, confidence: 0.5, when: {project: SHOP}, colour: red}
  - {id: op, objective: revenue, confidence: 0.5, when: {effort: {greater: 3}}}
  - {id: inh, inherit: grandparent}
"""


def problems_of(text: str):
    with pytest.raises(RulesetError) as info:
        engine_from_yaml(text)
    return info.value.problems


def test_every_problem_is_collected_and_located() -> None:
    found = {(format_loc(p.loc), p.rule_id or p.objective_id): p.message for p in problems_of(BROKEN)}
    assert "duplicate objective id 'revenue'" in found[("objectives[1].id", "revenue")]
    assert "use lower-case letters, digits, _ and -" in found[("objectives[2].id", "Bad Id")]
    assert "less than or equal to 5" in found[("objectives[2].weight", "Bad Id")]
    assert "duplicate rule id 'ok'" in found[("rules[1].id", "ok")]
    assert found[("rules[2].objective", "ghost")] == "unknown objective 'growth'; known: revenue"
    msg = found[("rules[3].when.all[1].regex", "bad-regex")]
    assert "RE2 cannot compile" in msg and "(?<=a)b" in msg and "look-around" in msg
    msg = found[("rules[4].when.projct", "typo")]
    assert "unknown condition 'projct'" in msg and "did you mean 'project'" in msg
    assert "text" in msg and "regex" in msg and "fields.<platform field id>" in msg  # lists the known keys
    assert ("rules[5].confidence", "conf") in found
    assert found[("rules[6].colour", "extra")].startswith("unknown key 'colour'; known: id, objective")
    assert "unknown operator 'greater'; known: eq, in, gt" in found[("rules[7].when.effort.greater", "op")]
    assert ("rules[8].inherit", "inh") in found
    assert len(found) == 11


def test_error_message_lists_each_problem() -> None:
    with pytest.raises(RulesetError) as info:
        engine_from_yaml(BROKEN)
    text = str(info.value)
    assert text.startswith("11 problems in the rule set:")
    assert "rules[3].when.all[1].regex (rule bad-regex): RE2 cannot compile" in text


@pytest.mark.parametrize("rule,loc,needle", [
    ("{id: r, objective: revenue, when: {project: X}}", "rules[0]", "missing confidence"),
    ("{id: r, objective: revenue, confidence: 1}", "rules[0]", "missing when"),
    ("{id: r, inherit: parent, objective: revenue}", "rules[0]", "remove objective and confidence"),
    ("{id: r, objective: revenue, confidence: 1, decay: 0.5, when: {project: X}}", "rules[0]", "decay applies only"),
    ("{id: r, objective: revenue, confidence: 1, when: {project: []}}", "rules[0].when.project", "empty list"),
    ("{id: r, objective: revenue, confidence: 1, when: {any: []}}", "rules[0].when.any", "non-empty list"),
    ("{id: r, objective: revenue, confidence: 1, when: {text: {some: [x]}}}", "rules[0].when.text.some",
     "known: any, all"),
    ("{id: r, objective: revenue, confidence: 1, when: {regex: {nofield: x}}}", "rules[0].when.regex.nofield",
     "unknown field"),
    ("{id: r, objective: revenue, confidence: 1, when: {effort: {gt: soon}}}", "rules[0].when.effort.gt",
     "needs a number or a date"),
    ("{id: r, objective: revenue, confidence: 1, when: {not: []}}", "rules[0].when.not", "empty list"),
    ("{id: r, objective: revenue, confidence: 1, when: 3}", "rules[0].when", "expected a mapping"),
])
def test_single_problems(rule, loc, needle) -> None:
    problems = problems_of("objectives: [{id: revenue, name: R, weight: 5}]\nrules:\n  - " + rule + "\n")
    assert [format_loc(p.loc) for p in problems] == [loc], problems
    assert needle in problems[0].message
    assert problems[0].rule_id == "r"


def test_reserved_and_empty_objectives() -> None:
    problems = problems_of("objectives: [{id: unaligned, name: U, weight: 1}]\n")
    assert "reserved" in problems[0].message and format_loc(problems[0].loc) == "objectives[0]"
    with pytest.raises(RulesetError, match="list at least one objective"):
        build_engine([], [])


def test_scoring_section_is_validated() -> None:
    problems = problems_of("objectives: [{id: a, name: A, weight: 1}]\nscoring: {default_nature: lazy, x: 1}\n")
    assert {format_loc(p.loc) for p in problems} == {"scoring.default_nature", "scoring.x"}


def test_specs_and_dicts_are_both_accepted() -> None:
    from itsm_align.plugins.ruleset import ObjectiveSpec, RuleSpec, ScoringSpec
    from itsm_align.scoring.types import Objective

    cfg = load_yaml("objectives: [{id: a, name: A, weight: 2}]\nrules: [{id: r, objective: a, confidence: 1, "
                    "when: {project: P}}]\n")
    e1 = build_engine([ObjectiveSpec(**cfg["objectives"][0])], [RuleSpec(**cfg["rules"][0])], scoring=ScoringSpec())
    e2 = build_engine([Objective("a", "A", 2)], cfg["rules"], scoring={})
    assert e1.version == e2.version and e1.objectives == e2.objectives
