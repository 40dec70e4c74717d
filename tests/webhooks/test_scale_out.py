"""Scale-out configuration: the same code on PostgreSQL, with Redis waking
idle workers (LPUSH after the inbox commit, BLPOP in the worker)."""
from __future__ import annotations


import redis

from itsm_align.webhooks.app import create_app
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.worker import Worker

from .conftest import JIRA_SECRET, jira_fixture, post_jira
from .doubles import FixedEngine, ScriptedAdapter
from .live import WorkerThread, wait_until


def test_postgres_inbox_with_redis_wake_up(postgres_url: str, redis_server: str) -> None:
    settings = ServiceSettings(database_url=postgres_url, redis_url=redis_server, coalesce_seconds=0,
                               redis_wake_key="itsm-align:test-wake", redis_idle_seconds=60)
    app = create_app(service=settings, secrets={"jira": JIRA_SECRET})
    client = app.test_client()
    wake = redis.Redis.from_url(redis_server)
    wake.delete(settings.redis_wake_key)

    assert post_jira(client, jira_fixture("issue_created.json"), delivery_id="pg-1").status_code == 202
    assert post_jira(client, jira_fixture("issue_created.json"), delivery_id="pg-1").status_code == 200
    assert wake.llen(settings.redis_wake_key) == 1  # one wake-up per accepted event, none for the replay

    inbox = app.extensions["itsm_align"].inbox
    adapter = ScriptedAdapter()
    worker = Worker(inbox, History(inbox.engine), {"jira": adapter}, FixedEngine(), settings=settings)
    assert worker.run_once() == 1
    wake.delete(settings.redis_wake_key)
    # now idle with nothing owed: the worker blocks in BLPOP (up to 60 s) until an event wakes it
    thread = WorkerThread(worker).start()
    try:
        wait_until(lambda: wake.execute_command("CLIENT", "LIST").decode().count("cmd=blpop") == 1, 10,
                   "the worker to block in BLPOP")
        assert post_jira(client, jira_fixture("issue_updated_generic.json"), delivery_id="pg-2").status_code == 202
        wait_until(lambda: inbox.depth()["done"] == 2, 10, "the woken worker to process the event")
    finally:
        thread.close()
    assert [k for k, _ in adapter.writes] == ["BBCOM-1398", "BBCOM-1233"]
