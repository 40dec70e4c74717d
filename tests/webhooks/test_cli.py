"""``itsm-align inbox``: lists what is owed and parked, re-queues failed items;
an item parked after max attempts is re-queued and then completed."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm_align.integration.base import ConfigurationError
from itsm_align.cli.main import cli
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.worker import Worker

from .doubles import FixedEngine, ScriptedAdapter
from .test_inbox_contract import Clock

CONFIG = """
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
rules:
  - {{id: shop, objective: revenue, confidence: 0.9, when: {{project: [SHOP]}}}}
service:
  database_url: "{url}"
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    monkeypatch.delenv("ITSM_ALIGN_CONFIG", raising=False)
    url = f"sqlite:///{tmp_path / 'svc.sqlite3'}"
    path = tmp_path / "itsm-align.yaml"
    path.write_text(CONFIG.format(url=url))
    return path, url


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_parked_item_is_listed_requeued_and_then_done(config_file) -> None:  # type: ignore[no-untyped-def]
    path, url = config_file
    engine = create_db_engine(url)
    clock = Clock()
    inbox = Inbox(engine, coalesce_seconds=0, clock=clock)
    adapter = ScriptedAdapter()
    adapter.errors["SHOP-9"] = [ConfigurationError("jira", "Field cannot be set. It is not on the appropriate "
                                                   "screen, or unknown.", status=400)]  # permanent: parked
    worker = Worker(inbox, History(engine), {"jira": adapter}, FixedEngine(), settings=ServiceSettings(max_attempts=2))
    inbox.add("jira", "d1", "SHOP-9", event_type="jira:issue_updated", payload=b"{}")
    inbox.add("jira", "d2", "SHOP-10", event_type="jira:issue_updated", payload=b"{}")
    clock.now += 120
    worker.run_once()
    (failed,) = inbox.rows(state="failed")

    listing = run("inbox", "--config", str(path), "--failed")
    assert listing.exit_code == 0, listing.output
    assert "failed 1" in listing.output and "SHOP-9" in listing.output and "appropriate screen" in listing.output
    assert "SHOP-10" not in listing.output  # done items are not listed

    requeued = run("inbox", "--config", str(path), "--requeue", str(failed.id))
    assert requeued.exit_code == 0 and "re-queued 1" in requeued.output
    clock.now = max(clock.now, time.time()) + 1  # requeue stamps not_before with the real clock
    assert worker.run_once() == 1
    assert inbox.depth() == {"pending": 0, "leased": 0, "done": 2, "failed": 0}
    assert [k for k, _ in adapter.writes] == ["SHOP-10", "SHOP-9"]


def test_requeue_all_and_unknown_id(config_file) -> None:  # type: ignore[no-untyped-def]
    path, url = config_file
    inbox = Inbox(create_db_engine(url), coalesce_seconds=0)
    assert run("inbox", "--config", str(path), "--requeue-all-failed").output.strip() == "re-queued 0 item(s)"
    unknown = CliRunner().invoke(cli, ["inbox", "--config", str(path), "--requeue", "999"])
    assert unknown.exit_code != 0 and "999" in unknown.output
    summary = run("inbox", "--config", str(path))
    assert "pending 0" in summary.output
    assert inbox.depth()["failed"] == 0
