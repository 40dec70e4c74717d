"""End to end over real sockets on ServiceNow: a person's change -> the
business rule's signed event -> service (real HTTP server) -> inbox -> worker
-> real ServiceNowAdapter (PySNC over HTTPS) -> sandbox columns."""
from __future__ import annotations

import json
import time

import pytest
import requests

from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.integration.servicenow.settings import ServiceNowSettings
from itsm_align.plugins.engine import build_engine
from itsm_align.webhooks.app import create_app
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.signatures import servicenow_signature
from itsm_align.webhooks.storage.statestore import DatabaseStore
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.worker import Worker

from .live import LiveService, WorkerThread, wait_until

SECRET = "e2e-servicenow-secret"
OBJECTIVES = [{"id": "revenue", "name": "Grow online revenue", "weight": 5},
              {"id": "compliance", "name": "Stay compliant", "weight": 4}]
RULES = [{"id": "gdpr-words", "objective": "compliance", "confidence": 0.7, "when": {"text": {"any": ["gdpr"]}}}]


@pytest.fixture
def stack(servicenow_sandbox, tmp_path):  # type: ignore[no-untyped-def]
    sandbox = servicenow_sandbox
    db = create_db_engine(f"sqlite:///{tmp_path / 'e2e.sqlite3'}")
    settings = ServiceSettings(database_url=str(db.url), coalesce_seconds=0.05, poll_seconds=0.02,
                               rollup_delay_seconds=0)  # project rollups refresh at once here
    sn_settings = ServiceNowSettings(instance=sandbox.url, user=sandbox.integration_user,
                                     password=sandbox.integration_password, ca_bundle=sandbox.ca_pem_path,
                                     webhook_secret=SECRET)
    engine = build_engine(OBJECTIVES, RULES)
    ingest_adapter = ServiceNowAdapter(sn_settings, DatabaseStore(db, "servicenow"))
    app = create_app(service=settings, secrets={"servicenow": SECRET}, adapters={"servicenow": ingest_adapter},
                     db_engine=db)
    live = LiveService(app).start()
    worker_adapter = ServiceNowAdapter(sn_settings, DatabaseStore(db, "servicenow"))
    worker_adapter.setup(engine.objectives)
    worker_adapter.configure(objectives=engine.objectives, fields_read=sorted(engine.fields_read))
    sandbox.set_property("itsm_align.endpoint", f"{live.url}/webhooks/servicenow")
    sandbox.set_property("itsm_align.secret", SECRET)
    sandbox.set_property("itsm_align.integration_user", sandbox.integration_user)
    inbox, history = Inbox(db, coalesce_seconds=settings.coalesce_seconds), History(db)
    worker = WorkerThread(Worker(inbox, history, {"servicenow": worker_adapter}, engine, settings=settings)).start()
    yield {"sandbox": sandbox, "live": live, "inbox": inbox, "history": history,
           "counters": app.extensions["itsm_align"].counters}
    worker.close()
    live.close()
    db.dispose()


def patches(sandbox, sys_id: str) -> list:  # type: ignore[no-untyped-def]
    return [r for r in sandbox.http_requests if r.method in {"PATCH", "PUT"} and sys_id in r.path]


def settled(stack) -> bool:  # type: ignore[no-untyped-def]
    stack["sandbox"].wait_events_idle(timeout=10)
    depth = stack["inbox"].depth()
    return not depth["pending"] and not depth["leased"]


def test_person_change_to_columns_written(stack) -> None:  # type: ignore[no-untyped-def]
    sandbox = stack["sandbox"]
    record = sandbox.insert("incident", {"short_description": "GDPR data subject access request"},
                            as_user=sandbox.admin_user)
    sys_id = record["sys_id"]
    wait_until(lambda: sandbox.record("incident", sys_id)["u_business_objective"] == "compliance", 20,
               "the worker to write the objective")
    written = sandbox.record("incident", sys_id)
    assert int(written["u_alignment_score"]) == 56 and "Stay compliant" in written["u_alignment_rationale"]
    wait_until(lambda: settled(stack), 10, "settle")
    assert len(patches(sandbox, sys_id)) == 1
    # with the rule's condition on, our own write sent no event at all
    assert len(sandbox.events) == 1 and len(stack["inbox"].rows()) == 1

    # a person's edit that changes nothing we compute: assessed again, nothing written
    sandbox.update_as(sandbox.admin_user, "incident", sys_id, {"priority": "2"})
    wait_until(lambda: len(stack["inbox"].rows(state="done")) == 2 and settled(stack), 20, "the re-assessment")
    assert len(patches(sandbox, sys_id)) == 1


def test_own_echo_is_dropped_when_the_rule_condition_is_off(stack) -> None:  # type: ignore[no-untyped-def]
    sandbox = stack["sandbox"]
    sandbox.business_rule_condition_enabled = False  # our writes now come back as events
    record = sandbox.insert("incident", {"short_description": "GDPR erasure request"}, as_user=sandbox.admin_user)
    wait_until(lambda: stack["counters"].get("servicenow", "ignored", "own_change") == 1, 20,
               "our echo to reach the service and be dropped")
    wait_until(lambda: settled(stack), 10, "settle")
    assert stack["counters"].get("servicenow", "accepted") == 1
    assert len(patches(sandbox, record["sys_id"])) == 1 and len(stack["inbox"].rows()) == 1


def test_replayed_stale_and_forged_events_change_nothing(stack) -> None:  # type: ignore[no-untyped-def]
    sandbox, live, inbox = stack["sandbox"], stack["live"], stack["inbox"]
    record = sandbox.insert("incident", {"short_description": "GDPR erasure"}, as_user=sandbox.admin_user)
    wait_until(lambda: patches(sandbox, record["sys_id"]) and settled(stack), 20, "first round")
    first = sandbox.events[0]
    rows = len(inbox.rows())
    url = f"{live.url}/webhooks/servicenow"
    replay = requests.post(url, data=first.body, headers=first.headers, timeout=10)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"

    stale_ts = str(int(time.time()) - 600)
    stale_body = json.dumps(dict(first.payload, event_id="f" * 32)).encode()
    stale = requests.post(url, data=stale_body, timeout=10, headers={
        "Content-Type": "application/json", "X-ITSM-Align-Event-Id": "f" * 32, "X-ITSM-Align-Timestamp": stale_ts,
        "X-ITSM-Align-Signature": servicenow_signature(SECRET, stale_ts, stale_body)})
    assert stale.status_code == 401 and "stale" in stale.json()["reason"]

    forged = requests.post(url, data=stale_body, timeout=10, headers={
        "Content-Type": "application/json", "X-ITSM-Align-Timestamp": str(int(time.time())),
        "X-ITSM-Align-Signature": servicenow_signature("guess", str(int(time.time())), stale_body)})
    assert forged.status_code == 401
    assert len(inbox.rows()) == rows and len(patches(sandbox, record["sys_id"])) == 1
