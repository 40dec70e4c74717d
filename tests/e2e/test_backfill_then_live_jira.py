"""The install flow the README recommends, end to end over the Jira sandbox:
``setup jira`` -> ``backfill jira`` -> the service and a worker take over.

What a back-fill assessed is in the history the worker reads, so inheritance
and project rollups are right from the first live event:

- a Story a person creates under a back-filled Epic inherits from it live
  (the engine's example: revenue epic at 90 -> child at 72);
- inheritance inside the back-fill does not depend on the order Jira returns
  issues in (a child returned before its Epic still inherits);
- the project rollup counts every assessed issue, back-filled and overridden
  ones included.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from itsm_align.cli.compose import build_adapters, build_app
from itsm_align.cli.config import load_config
from itsm_align.cli.main import cli
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.worker import Worker
from tests.webhooks.live import LiveService, WorkerThread, wait_until

SECRET = "backfill-then-live-secret"
CONFIG = """\
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: compliance, name: Stay compliant, weight: 4}}
rules:
  - id: shop-epics
    objective: revenue
    confidence: 0.9
    when: {{all: [{{type: epic}}, {{project: SHOP}}]}}
  - id: gdpr-words
    objective: compliance
    confidence: 0.7
    when: {{text: {{any: [gdpr]}}}}
  - id: from-parent
    inherit: parent
    decay: 0.8
jira:
  url: {url}
  {login}
  api_token: ${{E2E_JIRA_TOKEN}}
  webhook_secret: ${{E2E_JIRA_SECRET}}
  jql: project = SHOP ORDER BY key ASC
service:
  public_url: {public_url}
  database_url: sqlite:///{db}
  coalesce_seconds: 0.05
  poll_seconds: 0.02
  rollup_delay_seconds: 0
"""


def write_config(path: Path, sandbox: Any, public_url: str, db: Path) -> Path:
    """The config for the sandbox's mode: Cloud (e-mail + API token) or Data Center (PAT)."""
    login = ("deployment: datacenter" if sandbox.deployment == "datacenter"
             else f"email: {sandbox.credentials[0]}")
    path.write_text(CONFIG.format(url=sandbox.url, login=login, public_url=public_url, db=db), encoding="utf-8")
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def site(jira_site, tmp_path: Path, monkeypatch) -> Iterator[dict[str, Any]]:
    """SHOP with an Epic, a Story created *before* its Epic (so search returns
    the child first), a second child, a GDPR bug and an unrelated task; and
    the service on a real socket, its database the one the CLI uses. Runs on
    Jira Cloud and on Jira Data Center."""
    sandbox = jira_site
    token = sandbox.pat if sandbox.deployment == "datacenter" else sandbox.credentials[1]
    monkeypatch.setenv("E2E_JIRA_TOKEN", token)
    monkeypatch.setenv("E2E_JIRA_SECRET", SECRET)
    sandbox.add_project("SHOP", "Web shop")
    person = sandbox.add_user("Riley Product", "riley@example.com")
    early_child = sandbox.create_issue("SHOP", "Show delivery dates at checkout", issuetype="Story", as_user=person)
    epic = sandbox.create_issue("SHOP", "Checkout conversion 2027", issuetype="Epic", as_user=person)
    sandbox.edit_issue_as(person, early_child, {"parent": {"key": epic}})
    late_child = sandbox.create_issue("SHOP", "One-click reorder", issuetype="Story",
                                      fields={"parent": {"key": epic}}, as_user=person)
    bug = sandbox.create_issue("SHOP", "GDPR export misses order notes", issuetype="Bug", as_user=person)
    task = sandbox.create_issue("SHOP", "Renew team wiki licence", as_user=person)

    db_path = tmp_path / "itsm-align.sqlite3"
    boot = load_config(write_config(tmp_path / "boot.yaml", sandbox, "http://127.0.0.1:9", db_path))
    db = create_db_engine(boot.service.database_url)
    live = LiveService(build_app(boot, db, warm=False)).start()  # no background threads left behind
    config_path = write_config(tmp_path / "itsm-align.yaml", sandbox, live.url, db_path)
    yield {"sandbox": sandbox, "person": person, "config": config_path, "db": db, "live": live,
           "keys": {"epic": epic, "early": early_child, "late": late_child, "bug": bug, "task": task}}
    live.close()
    db.dispose()


def start_worker(site: dict[str, Any]) -> tuple[WorkerThread, dict[str, Any]]:
    config = load_config(site["config"])
    db = site["db"]
    adapters = build_adapters(config, db)
    worker = Worker(Inbox(db, coalesce_seconds=config.service.coalesce_seconds), History(db), adapters,
                    config.engine(), settings=config.service)
    return WorkerThread(worker).start(), adapters


def objective_and_score(sandbox: Any, key: str) -> tuple[str | None, float | None]:
    fields = sandbox.issue(key)["fields"]
    option = fields.get(sandbox.field_id("Business Objective"))
    return (option or {}).get("value"), fields.get(sandbox.field_id("Alignment Score"))


def test_backfill_feeds_inheritance_and_rollups_of_the_live_loop(site: dict[str, Any]) -> None:
    sandbox, keys, config = site["sandbox"], site["keys"], str(site["config"])
    setup = run("setup", "jira", "--config", config)
    assert setup.exit_code == 0, setup.output
    # a person chose the objective of the bug by hand before the back-fill
    sandbox.edit_issue_as(site["person"], keys["bug"],
                          {sandbox.field_id("Business Objective"): {"value": "Grow online revenue"}})

    backfill = run("backfill", "jira", "--config", config)
    assert backfill.exit_code == 0, backfill.output
    assert "5 issues assessed" in backfill.output
    assert "5 assessments added to the history" in backfill.output

    # the child Jira returned before its Epic inherited all the same
    assert objective_and_score(sandbox, keys["epic"]) == ("Grow online revenue", 90)
    assert objective_and_score(sandbox, keys["early"]) == ("Grow online revenue", 72)
    assert objective_and_score(sandbox, keys["late"]) == ("Grow online revenue", 72)

    history = History(site["db"])
    frame = history.frame()
    assert sorted(frame["item_key"]) == sorted(keys.values())
    assert set(frame["source"]) == {"backfill"}
    assert frame.set_index("item_key").loc[keys["bug"], "overridden"]
    assert frame["url"].str.endswith(tuple(f"/browse/{k}" for k in keys.values())).all()

    worker, adapters = start_worker(site)
    try:
        # the rollup refresh the back-fill queued counts all five issues, the overridden bug too
        rollup = wait_until(lambda: sandbox.project_property("SHOP", "itsm-align.alignment"),
                            what="the SHOP rollup written by the worker")
        assert rollup["item_count"] == 5

        # a person adds a Story under the back-filled Epic: it inherits live
        story = sandbox.create_issue("SHOP", "Apple Pay at checkout", issuetype="Story",
                                     fields={"parent": {"key": keys["epic"]}}, as_user=site["person"])
        wait_until(lambda: objective_and_score(sandbox, story)[1] is not None, what=f"{story} scored")
        assert objective_and_score(sandbox, story) == ("Grow online revenue", 72)
        # the worker writes to Jira, then appends to the history: wait for the second step too
        latest = wait_until(lambda: history.latest("jira", story), what=f"{story} in the history")
        assert latest.objective == "revenue" and latest.score == 72
        assert "from-parent" in {m.rule_id for m in latest.matches}, latest.rationale
        wait_until(lambda: (sandbox.project_property("SHOP", "itsm-align.alignment") or {}).get("item_count") == 6,
                   what="the rollup counting the new story")
    finally:
        worker.close()
        for adapter in adapters.values():
            adapter.close()
