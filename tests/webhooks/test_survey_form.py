"""The survey form (``/survey/<token>``) through Flask's test client."""
from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from itsm_align.webhooks.app import create_app
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.surveys import Surveys

from .dashboard_seed import OBJECTIVES


@pytest.fixture
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'service.sqlite3'}")
    app = create_app(ServiceSettings(database_url=str(engine.url), public_url="https://align.example.com"),
                     secrets={"jira": "s" * 32}, db_engine=engine, objectives=OBJECTIVES)
    surveys = Surveys(engine)
    made, tokens = surveys.create_round("2026-Q4 business survey", invitations=3)
    yield app.test_client(), surveys, made, tokens
    engine.dispose()


def text(response) -> str:  # type: ignore[no-untyped-def]
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


ANSWER = {"respondent": "Ann Lee", "department": "Sales", "importance-revenue": "5", "satisfaction-revenue": "2",
          "comment-revenue": "Checkout is too slow on mobile", "importance-cost": "2", "satisfaction-cost": "4"}


def test_the_form_rates_every_objective(env) -> None:  # type: ignore[no-untyped-def]
    client, _, made, tokens = env
    response = client.get(f"/survey/{tokens[0]}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and made.title in page
    for objective in OBJECTIVES:
        assert objective.name in page
        assert f'name="importance-{objective.id}"' in page and f'name="satisfaction-{objective.id}"' in page
    assert response.headers["Referrer-Policy"] == "same-origin" and "frame-ancestors 'none'" in \
        response.headers["Content-Security-Policy"]
    assert "<script" not in page


def test_an_answer_is_stored_once(env) -> None:  # type: ignore[no-untyped-def]
    client, surveys, _, tokens = env
    response = client.post(f"/survey/{tokens[0]}", data=ANSWER, headers={"Origin": "http://localhost"})
    assert response.status_code == 200 and "Thank you" in text(response) and "2 objectives rated" in text(response)
    frame = surveys.frame()
    assert sorted(frame["objective"]) == ["cost", "revenue"]
    assert set(frame["respondent"]) == {"Ann Lee"} and set(frame["department"]) == {"Sales"}
    again = client.post(f"/survey/{tokens[0]}", data=ANSWER)
    assert again.status_code == 409 and "answered already" in text(again)
    assert client.get(f"/survey/{tokens[0]}").status_code == 409
    assert len(surveys.frame()) == 2


def test_mistakes_come_back_with_the_answers_kept(env) -> None:  # type: ignore[no-untyped-def]
    client, surveys, _, tokens = env
    response = client.post(f"/survey/{tokens[1]}", data={
        "respondent": "Raj", "department": "", "importance-revenue": "4", "comment-cost": "only a comment"})
    page = text(response)
    assert response.status_code == 400
    assert "Say which department or role you answer for." in page
    assert "Rate both importance and satisfaction, or neither" in page
    assert "Rate importance and satisfaction too, or remove the comment." in page
    assert 'value="Raj"' in page and 'id="importance-revenue-4" name="importance-revenue" value="4" checked' in page
    assert surveys.frame().empty and surveys.invitation(tokens[1]).used_at is None  # type: ignore[union-attr]
    nothing = client.post(f"/survey/{tokens[1]}", data={"department": "Ops"})
    assert nothing.status_code == 400 and "Rate at least one objective" in text(nothing)


def test_unknown_and_closed_links_get_a_clear_page(env) -> None:  # type: ignore[no-untyped-def]
    client, surveys, made, tokens = env
    unknown = client.get("/survey/this-is-not-a-real-token")
    assert unknown.status_code == 404 and "not valid" in text(unknown) and "new one" in text(unknown)
    assert client.get("/survey/x").status_code == 404
    surveys.close(made.id)
    closed = client.get(f"/survey/{tokens[2]}")
    assert closed.status_code == 410 and "This survey is closed" in text(closed)
    posted = client.post(f"/survey/{tokens[2]}", data=ANSWER)
    assert posted.status_code == 410 and surveys.frame().empty


def test_answers_from_another_site_are_refused(env) -> None:  # type: ignore[no-untyped-def]
    client, surveys, _, tokens = env
    response = client.post(f"/survey/{tokens[0]}", data=ANSWER, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "from another site" in text(response)
    via_referer = client.post(f"/survey/{tokens[0]}", data=ANSWER,
                              headers={"Referer": "https://evil.example/page"})
    assert via_referer.status_code == 403
    public = client.post(f"/survey/{tokens[0]}", data=ANSWER, headers={"Origin": "https://align.example.com"})
    assert public.status_code == 200 and len(surveys.frame()) == 2
