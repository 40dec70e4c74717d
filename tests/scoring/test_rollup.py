"""Project rollup: effort-weighted mean score and effort share per objective."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from itsm_align.scoring.rollup import ProjectRollup, project_rollup
from itsm_align.scoring.types import UNALIGNED, Assessment, Nature


def a(obj: str, score: int, nature: Nature = Nature.PROACTIVE) -> Assessment:
    return Assessment("K", "jira", obj, score, nature, "r")


def test_effort_weighted_mean_and_shares() -> None:
    r = project_rollup([(a("revenue", 90), 8.0), (a(UNALIGNED, 0, Nature.REACTIVE), 2.0),
                        (a("cost", 24), None)])
    assert r.item_count == 3 and r.total_effort == 11.0
    assert abs(r.score - (90 * 8 + 0 * 2 + 24 * 1) / 11) < 1e-9
    assert r.effort_share == {"revenue": 8 / 11, UNALIGNED: 2 / 11, "cost": 1 / 11}
    assert abs(r.reactive_share - 2 / 11) < 1e-9


def test_missing_or_nonpositive_effort_counts_one() -> None:
    r = project_rollup([(a("revenue", 100), 0.0), (a("cost", 0), float("nan")), (a("cost", 50), -3)])
    assert r.total_effort == 3.0 and r.score == 50.0


def test_empty_project() -> None:
    assert project_rollup([]) == ProjectRollup()


@given(st.lists(st.tuples(st.integers(0, 100), st.one_of(st.none(), st.floats(0, 1e6))), max_size=30))
def test_bounded_and_shares_sum_to_one(rows) -> None:
    r = project_rollup((a("revenue" if s % 2 else UNALIGNED, s), e) for s, e in rows)
    assert 0 <= r.score <= 100
    if rows:
        assert abs(sum(r.effort_share.values()) - 1.0) < 1e-9


def test_a_mean_of_full_scores_stays_at_100() -> None:
    # found by hypothesis: float rounding made this 100.00000000000001
    rows = [(a("revenue", 100), e) for e in (None, 0.25345814898474883, 0.2090909925517701)]
    r = project_rollup(rows)
    assert r.score == 100.0
