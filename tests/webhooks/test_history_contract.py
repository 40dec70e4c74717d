"""History store contract on SQLite and PostgreSQL, and the DB state store."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from itsm_align.scoring.types import Assessment, Evidence, Match, Nature, RuleError, WorkItem
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.statestore import DatabaseStore
from itsm_align.webhooks.storage.engine import create_db_engine


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


def assessment(key: str = "SHOP-1", objective: str = "grow-online", score: int = 80, **kw) -> Assessment:  # type: ignore[no-untyped-def]
    match = Match(objective=objective, confidence=0.9, rule_id="shop-project", reason="project is SHOP",
                  nature=Nature.PROACTIVE)
    values = dict(item_key=key, platform="jira", objective=objective, score=score, nature=Nature.PROACTIVE,
                  rationale="Serves Grow online revenue: project is SHOP",
                  evidence=(Evidence(objective, 0.9, (match,)),), ruleset_version="v1",
                  errors=(RuleError("broken", "boom"),))
    values.update(kw)
    return Assessment(**values)


ITEM = WorkItem(platform="jira", key="SHOP-1", project="SHOP", type="story", effort=5.0, parent="SHOP-0")


def test_latest_round_trips_the_assessment(engine) -> None:  # type: ignore[no-untyped-def]
    history = History(engine)
    assert history.latest("jira", "SHOP-1") is None
    history.append(assessment(score=40), ITEM)
    history.append(assessment(score=80), ITEM)
    assert history.latest("jira", "SHOP-1") == assessment(score=80)


def test_deleted_item_has_no_latest(engine) -> None:  # type: ignore[no-untyped-def]
    history = History(engine)
    history.append(assessment(), ITEM)
    history.append_deleted("jira", "SHOP-1")
    assert history.latest("jira", "SHOP-1") is None


def test_project_members_and_efforts(engine) -> None:  # type: ignore[no-untyped-def]
    history = History(engine)
    history.append(assessment("SHOP-1"), ITEM)
    history.append(assessment("SHOP-2", objective="unaligned", score=10),
                   WorkItem(platform="jira", key="SHOP-2", project="SHOP", effort=None))
    history.append(assessment("OPS-1"), WorkItem(platform="jira", key="OPS-1", project="OPS"))
    members = history.latest_in_project("jira", "SHOP")
    assert sorted(members) == ["SHOP-1", "SHOP-2"] and members["SHOP-2"].score == 10
    assert history.efforts("jira", ["SHOP-1", "SHOP-2"]) == {"SHOP-1": 5.0, "SHOP-2": None}


def test_frame_for_reports(engine) -> None:  # type: ignore[no-untyped-def]
    history = History(engine)
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    history.append(assessment(score=40), ITEM, at=at)
    history.append(assessment(score=80, overridden=True), ITEM)
    history.append(assessment("SHOP-2"), WorkItem(platform="jira", key="SHOP-2"))
    history.append_deleted("jira", "SHOP-2")
    frame = history.frame()
    assert list(frame["score"]) == [40, 80, 80]
    assert frame.loc[0, "rule_ids"] == ["shop-project"] and frame.loc[0, "project"] == "SHOP"
    assert frame.loc[0, "errors"] == [{"rule_id": "broken", "message": "boom"}]
    assert frame.loc[0, "assessed_at"] == at
    latest = history.frame(latest_only=True)
    assert list(latest["item_key"]) == ["SHOP-1"] and bool(latest.loc[0, "overridden"]) is True
    assert len(history.frame(since=datetime(2026, 11, 2, tzinfo=timezone.utc))) == 2


def test_database_state_store(engine) -> None:  # type: ignore[no-untyped-def]
    jira, servicenow = DatabaseStore(engine, "jira"), DatabaseStore(engine, "servicenow")
    assert jira.get("option:grow") is None
    jira.set("option:grow", "10100")
    jira.set("option:grow", "10101")
    servicenow.set("option:grow", "x")
    assert jira.get("option:grow") == "10101" and servicenow.get("option:grow") == "x"
