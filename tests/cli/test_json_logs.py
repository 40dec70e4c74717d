"""`--log-format json`: one JSON object per line, with platform, item key,
delivery id and rule-set version on every line about an item."""
from __future__ import annotations

import json
import logging

from itsm_align.cli.common import JsonLogFormatter


def test_a_line_about_an_item_carries_its_identifiers() -> None:
    record = logging.LogRecord("itsm_align.worker", logging.INFO, __file__, 1, "%s %s -> %s wrote %s",
                               ("jira", "SHOP-1", "revenue", "customfield_10050"), None)
    for name, value in (("platform", "jira"), ("item_key", "SHOP-1"), ("delivery_id", "abc-1"),
                        ("ruleset_version", "bdc8d2f2b021")):
        setattr(record, name, value)
    line = json.loads(JsonLogFormatter().format(record))
    assert line["message"] == "jira SHOP-1 -> revenue wrote customfield_10050"
    assert (line["level"], line["logger"]) == ("info", "itsm_align.worker")
    assert (line["platform"], line["item_key"], line["delivery_id"], line["ruleset_version"]) == (
        "jira", "SHOP-1", "abc-1", "bdc8d2f2b021")
    assert line["time"].endswith("+00:00")


def test_the_worker_logs_each_item_with_those_fields(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    from itsm_align.webhooks.settings import ServiceSettings
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.history import History
    from itsm_align.webhooks.storage.inbox import Inbox
    from itsm_align.webhooks.worker import Worker
    from tests.webhooks.doubles import FixedEngine, ScriptedAdapter

    engine = create_db_engine(f"sqlite:///{tmp_path / 'j.sqlite3'}")
    inbox = Inbox(engine, coalesce_seconds=0)
    inbox.add("jira", "delivery-7", "SHOP-7", event_type="jira:issue_updated", payload=b"{}")
    caplog.set_level(logging.INFO, logger="itsm_align.worker")
    Worker(inbox, History(engine), {"jira": ScriptedAdapter()}, FixedEngine(), settings=ServiceSettings()).run_once()
    (record,) = [r for r in caplog.records if "SHOP-7 ->" in r.getMessage()]
    line = json.loads(JsonLogFormatter().format(record))
    assert (line["platform"], line["item_key"], line["delivery_id"]) == ("jira", "SHOP-7", "delivery-7")
