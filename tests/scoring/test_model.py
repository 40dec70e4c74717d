"""The default scoring model (scoring/model.py): examples and properties."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from itsm_align.scoring.model import ScoringSettings, assess, noisy_or, score_of
from itsm_align.scoring.types import (
    UNALIGNED,
    Match,
    Nature,
    Objective,
    OutputValues,
    SetBy,
    WorkItem,
)

OBJS = (Objective("revenue", "Grow online revenue", 5), Objective("compliance", "Stay compliant", 4),
        Objective("cost", "Cut run costs", 2))
IDS = [o.id for o in OBJS]


def it(**kw) -> WorkItem:
    return WorkItem(platform="jira", key="A-1", **kw)


def m(obj: str, c: float, rid: str = "r", nature: Nature | None = None) -> Match:
    return Match(obj, c, rid, f"reason {rid}", nature)


def test_noisy_or_combines_confidences() -> None:
    assert noisy_or([]) == 0.0
    assert noisy_or([0.5, 0.5]) == 0.75
    assert abs(noisy_or([0.9, 0.5]) - 0.95) < 1e-12
    assert noisy_or([1.5, -1]) == 1.0  # clamped


def test_score_rounds_half_up_and_is_relative_to_the_highest_weight() -> None:
    assert score_of(0.7, 4, 5) == 56
    assert score_of(0.6, 2, 5) == 24
    assert score_of(0.125, 4, 1) == 50  # 12.5 x 4 = 50
    assert score_of(0.005, 5, 5) == 1  # 0.5 rounds up
    assert score_of(1.0, 5, 0) == 0


def test_evidence_is_noisy_or_and_primary_is_evidence_times_weight() -> None:
    a = assess(it(), [m("cost", 0.5, "a"), m("cost", 0.5, "b"), m("compliance", 0.4, "c")], OBJS)
    # cost: 0.75 x 2 = 1.5 < compliance: 0.4 x 4 = 1.6
    assert a.objective == "compliance" and a.score == 32
    assert [(e.objective, e.evidence) for e in a.evidence] == [("compliance", 0.4), ("cost", 0.75)]
    assert "Cut run costs: a (reason a), b (reason b)" in a.rationale


def test_ties_go_to_the_higher_weight_then_config_order() -> None:
    # 0.8 x 5 = 4.0 == 1.0 x 4: revenue has the higher weight
    assert assess(it(), [m("compliance", 1.0), m("revenue", 0.8)], OBJS).objective == "revenue"
    twins = (Objective("a", "A", 3), Objective("b", "B", 3))
    assert assess(it(), [m("b", 0.5), m("a", 0.5)], twins).objective == "a"
    assert assess(it(), [m("b", 0.5), m("a", 0.5)], twins[::-1]).objective == "b"


def test_unknown_objective_is_recorded_as_an_error_not_scored() -> None:
    a = assess(it(), [m("nope", 0.9, "plug")], OBJS)
    assert a.objective == UNALIGNED
    assert a.errors[0].rule_id == "plug" and "unknown objective 'nope'" in a.errors[0].message


def test_nature_from_primary_rule_then_any_rule_then_type_then_default() -> None:
    s = ScoringSettings()
    a = assess(it(type="incident"), [m("revenue", 0.9, "a", Nature.PROACTIVE), m("cost", 0.2, "b", Nature.REACTIVE)],
               OBJS, settings=s)
    assert a.nature is Nature.PROACTIVE
    a = assess(it(type="story"), [m("revenue", 0.9, "a"), m("cost", 0.2, "b", Nature.REACTIVE)], OBJS)
    assert a.nature is Nature.REACTIVE
    assert assess(it(type="Incident"), [], OBJS).nature is Nature.REACTIVE
    assert assess(it(type="sc_req_item"), [], OBJS).nature is Nature.REACTIVE
    assert assess(it(type="change_request"), [], OBJS).nature is Nature.PROACTIVE
    assert assess(it(type="weird"), [], OBJS).nature is Nature.PROACTIVE
    custom = ScoringSettings(nature_by_type={"weird": Nature.REACTIVE}, default_nature=Nature.REACTIVE)
    assert assess(it(type="weird"), [], OBJS, settings=custom).nature is Nature.REACTIVE
    assert assess(it(type="story"), [], OBJS, settings=custom).nature is Nature.REACTIVE


def test_override_by_a_person_only() -> None:
    person = OutputValues(objective="cost", objective_set_by=SetBy.PERSON)
    ours = OutputValues(objective="cost", objective_set_by=SetBy.INTEGRATION)
    ms = [m("revenue", 0.9, "shop"), m("cost", 0.3, "c")]
    a = assess(it(current=person), ms, OBJS)
    assert (a.objective, a.score, a.overridden) == ("cost", 40, True)
    assert a.evidence[0].objective == "cost" and a.evidence[0].evidence == 1.0
    assert [x.rule_id for x in a.evidence[0].matches] == ["c"]  # the rules that agree stay visible
    assert a.rationale.startswith("Cut run costs (40): set by a person; c: reason c; also Grow online revenue")
    assert assess(it(current=ours), ms, OBJS).objective == "revenue"
    # a person may also say "unaligned"
    a = assess(it(current=OutputValues(objective=UNALIGNED, objective_set_by=SetBy.PERSON)), ms, OBJS)
    assert (a.objective, a.score, a.overridden) == (UNALIGNED, 0, True)
    # an objective no longer configured does not stand
    gone = OutputValues(objective="old", objective_set_by=SetBy.PERSON)
    assert assess(it(current=gone), ms, OBJS).overridden is False


def test_rationale_is_one_bounded_line() -> None:
    a = assess(it(), [Match("revenue", 0.9, f"r{i}", "line\nbreak " * 20) for i in range(40)], OBJS)
    assert "\n" not in a.rationale and len(a.rationale) <= 500 and a.rationale.endswith("…")


# ---------------------------------------------------------------- properties

matches_st = st.lists(
    st.builds(lambda o, c, r: Match(o, c, f"r{r}", "x"), st.sampled_from(IDS),
              st.floats(0, 1, allow_nan=False), st.integers(0, 30)),
    max_size=12)
weights_st = st.lists(st.integers(1, 5), min_size=3, max_size=3)


def objs(weights) -> tuple[Objective, ...]:
    return tuple(Objective(i, i.title(), w) for i, w in zip(IDS, weights, strict=True))


@settings(max_examples=200, deadline=None)
@given(matches_st, weights_st)
def test_score_is_bounded(ms, weights) -> None:
    a = assess(it(), ms, objs(weights))
    assert 0 <= a.score <= 100
    assert all(0.0 <= e.evidence <= 1.0 for e in a.evidence)
    assert (a.objective == UNALIGNED) == (a.score == 0 and all(e.evidence == 0 for e in a.evidence))


@settings(max_examples=200, deadline=None)
@given(matches_st, weights_st, st.randoms(use_true_random=False))
def test_deterministic_whatever_the_order_of_matches(ms, weights, rnd: random.Random) -> None:
    shuffled = list(ms)
    rnd.shuffle(shuffled)
    assert assess(it(), ms, objs(weights)) == assess(it(), shuffled, objs(weights))


@settings(max_examples=200, deadline=None)
@given(matches_st, weights_st, st.integers(0, 11), st.floats(0, 1, allow_nan=False))
def test_monotonic_in_confidence(ms, weights, index, bump) -> None:
    if not ms:
        return
    index %= len(ms)
    o = objs(weights)
    before = assess(it(), ms, o)
    raised = list(ms)
    raised[index] = Match(ms[index].objective, max(ms[index].confidence, bump), ms[index].rule_id, "x")
    after = assess(it(), raised, o)
    # the objective's own evidence never drops, and the item's score never drops
    obj = ms[index].objective
    ev = lambda a: next((e.evidence for e in a.evidence if e.objective == obj), 0.0)  # noqa: E731
    assert ev(after) >= ev(before)
    assert after.score >= before.score


@settings(max_examples=200, deadline=None)
@given(matches_st, weights_st, st.integers(0, 2))
def test_monotonic_in_weight(ms, weights, which) -> None:
    """Raising one objective's weight never lowers that objective's standing or score."""
    heavier = list(weights)
    if heavier[which] == 5:
        return
    heavier[which] += 1
    before, after = assess(it(), ms, objs(weights)), assess(it(), ms, objs(heavier))
    target = IDS[which]
    if before.objective == target:
        assert after.objective == target
        assert after.score >= before.score
    ev = next((e.evidence for e in before.evidence if e.objective == target), 0.0)
    if ev > 0 and after.objective != target:
        # it can only lose to an objective that already beat it
        assert after.objective == before.objective
