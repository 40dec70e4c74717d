"""Survey store contract (rounds, invitation links, answers) on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.schema import survey_invitations_table
from itsm_align.webhooks.storage.surveys import (
    AlreadyAnswered, Answer, Rating, RoundClosed, SurveyError, Surveys, UnknownRound, hash_token,
)


@pytest.fixture
def surveys(db_url: str):  # type: ignore[no-untyped-def]
    engine = create_db_engine(db_url)
    yield Surveys(engine)
    engine.dispose()


RATINGS = [Rating("revenue", 5, 2, "Checkout is still slow"), Rating("cost", 2, 4)]


def test_a_round_with_links_stores_only_token_hashes(surveys: Surveys) -> None:
    made, tokens = surveys.create_round("2026-Q1 business survey", invitations=3)
    assert made.is_open and made.title == "2026-Q1 business survey" and len(set(tokens)) == 3
    with surveys.engine.connect() as connection:
        stored = {row.token_hash for row in connection.execute(sa.select(survey_invitations_table))}
    assert stored == {hash_token(t) for t in tokens} and not stored & set(tokens)
    invitation = surveys.invitation(tokens[0])
    assert invitation is not None and invitation.round == made and invitation.used_at is None
    assert surveys.invitation("not-a-token") is None


def test_round_titles_are_unique_and_found_by_id_or_title(surveys: Surveys) -> None:
    made, _ = surveys.create_round("2026-Q1")
    with pytest.raises(SurveyError, match="exists already"):
        surveys.create_round(" 2026-Q1 ")
    assert surveys.round(made.id) == made == surveys.round("2026-Q1") == surveys.round(str(made.id))
    with pytest.raises(UnknownRound, match="survey list"):
        surveys.round("2030-Q9")


def test_one_answer_per_link(surveys: Surveys) -> None:
    _, (token,) = surveys.create_round("2026-Q1", invitations=1)
    assert surveys.answer(token, respondent="Ann Lee", department="Sales", ratings=RATINGS) == 2
    with pytest.raises(AlreadyAnswered):
        surveys.answer(token, respondent="Ann Lee", department="Sales", ratings=RATINGS)
    assert surveys.invitation(token).used_at is not None  # type: ignore[union-attr]
    frame = surveys.frame()
    assert list(frame[["round", "respondent", "department", "objective", "importance", "satisfaction",
                       "comment"]].itertuples(index=False, name=None)) == [
        ("2026-Q1", "Ann Lee", "Sales", "revenue", 5, 2, "Checkout is still slow"),
        ("2026-Q1", "Ann Lee", "Sales", "cost", 2, 4, "")]
    assert set(frame["source"]) == {"form"}


def test_racing_submissions_of_one_link_store_one_answer(surveys: Surveys) -> None:
    _, (token,) = surveys.create_round("2026-Q1", invitations=1)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def submit() -> None:
        start.wait()
        try:
            surveys.answer(token, respondent="", department="Finance", ratings=RATINGS)
            outcomes.append("stored")
        except AlreadyAnswered:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 3 + ["stored"]
    assert len(surveys.frame()) == 2 and set(surveys.frame()["respondent"]) == {"(anonymous)"}


def test_a_closed_round_takes_no_answers(surveys: Surveys) -> None:
    made, (token,) = surveys.create_round("2026-Q1", invitations=1)
    closed = surveys.close(made.id)
    assert not closed.is_open and surveys.close(made.id).closed_at == closed.closed_at
    with pytest.raises(RoundClosed):
        surveys.answer(token, respondent="Ann", department="Sales", ratings=RATINGS)
    with pytest.raises(RoundClosed):
        surveys.invite(made.id, 2)
    assert surveys.frame().empty and surveys.invitation(token).used_at is None  # type: ignore[union-attr]


def test_ratings_out_of_range_are_refused(surveys: Surveys) -> None:
    _, (token,) = surveys.create_round("2026-Q1", invitations=1)
    with pytest.raises(SurveyError, match="1 to 5"):
        surveys.answer(token, respondent="Ann", department="Sales", ratings=[Rating("cost", 6, 1)])
    assert surveys.invitation(token).used_at is None  # type: ignore[union-attr]


def test_import_is_all_or_nothing_and_refuses_a_second_import(surveys: Surveys) -> None:
    made, _ = surveys.create_round("2026-Q1")
    rows = [Answer("Bo", "Ops", "revenue", 4, 3, "ok"), Answer("Bo", "Ops", "cost", 3, 3)]
    assert surveys.import_answers(made.id, rows) == 2
    with pytest.raises(SurveyError, match="imported before"):
        surveys.import_answers(made.id, [Answer("Cy", "HR", "cost", 1, 1), *rows])
    assert len(surveys.frame()) == 2 and set(surveys.frame()["source"]) == {"import"}


def test_rounds_are_listed_with_their_counts(surveys: Surveys) -> None:
    first, tokens = surveys.create_round("2026-Q1", invitations=2)
    surveys.answer(tokens[0], respondent="Ann", department="Sales", ratings=RATINGS)
    surveys.import_answers(first.id, [Answer("Bo", "Ops", "revenue", 4, 3)])
    surveys.create_round("2026-Q2")
    listed = surveys.rounds()
    assert [(s.round.title, s.invitations, s.answered_invitations, s.answers, s.respondents) for s in listed] == [
        ("2026-Q1", 2, 1, 3, 2), ("2026-Q2", 0, 0, 0, 0)]
    assert surveys.frame(round_ids=[listed[1].round.id]).empty


def test_version_changes_with_every_answer(surveys: Surveys) -> None:
    before = surveys.version()
    made, _ = surveys.create_round("2026-Q1")
    after_round = surveys.version()
    surveys.import_answers(made.id, [Answer("Bo", "Ops", "revenue", 4, 3)])
    assert len({before, after_round, surveys.version()}) == 3


def test_times_come_back_in_utc(surveys: Surveys) -> None:
    fixed = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    store = Surveys(surveys.engine, clock=lambda: fixed)
    made, _ = store.create_round("2026-Q1")
    assert store.round(made.id).created_at == fixed
