"""A worker whose credentials the platform refuses does not start (it would
park every item); `worker --once` says so when items are left parked."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from itsm_align.cli.common import EXIT_CANNOT_START, EXIT_PLATFORM
from itsm_align.cli.main import cli
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.inbox import Inbox

CONFIG = """
objectives: [{{id: revenue, name: Grow online revenue, weight: 5}}]
rules: []
jira:
  url: {url}
  email: {email}
  api_token: {token}
  webhook_secret: s
service:
  database_url: sqlite:///{db}
  coalesce_seconds: 0
"""


def config(tmp_path: Path, sandbox, token: str) -> Path:  # type: ignore[no-untyped-def]
    email, _ = sandbox.credentials
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(url=sandbox.url, email=email, token=token, db=tmp_path / "w.sqlite3"),
                    encoding="utf-8")
    return path


def test_wrong_credentials_stop_the_worker_before_it_parks_anything(tmp_path: Path, jira_sandbox) -> None:
    path = config(tmp_path, jira_sandbox, "not-the-token")
    Inbox(create_db_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")).add(
        "jira", "d1", "SHOP-1", event_type="jira:issue_updated", payload=b"{}")
    result = CliRunner().invoke(cli, ["worker", "--once", "--config", str(path)])
    assert result.exit_code == EXIT_CANNOT_START
    assert "jira refused our credentials" in result.output and "Fix jira's credentials" in result.output
    (row,) = Inbox(create_db_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")).rows()
    assert row.state == "pending"  # nothing parked


def test_once_exits_3_when_items_are_left_parked(tmp_path: Path, jira_sandbox) -> None:
    _, token = jira_sandbox.credentials
    path = config(tmp_path, jira_sandbox, token)  # no fields set up: writes are refused for good
    jira_sandbox.add_project("SHOP", "Web shop")
    key = jira_sandbox.create_issue("SHOP", "Checkout fails")
    Inbox(create_db_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")).add(
        "jira", "d1", key, event_type="jira:issue_updated", payload=b"{}")
    result = CliRunner().invoke(cli, ["worker", "--once", "--config", str(path)])
    assert result.exit_code == EXIT_PLATFORM, result.output
    assert "1 failed" in result.output and "itsm-align inbox --failed" in result.output
