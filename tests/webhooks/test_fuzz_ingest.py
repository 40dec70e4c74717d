"""Property-based fuzzing of both webhook endpoints (hypothesis), signed and
unsigned, through the app with real adapters (offline, as ``serve`` runs them):
arbitrary bytes and JSON, invalid UTF-8, wrong content types, deep nesting,
huge strings and numbers in every header and field the code reads, duplicate
keys, chunked and sized bodies.

Whatever comes in: the answer is a 2xx or a 4xx with a JSON reason, never a
5xx; a refused request queues nothing; and a valid delivery sent right after
is still accepted."""
from __future__ import annotations

import copy
import io
import json
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_align.integration.base import MemoryStore
from itsm_align.integration.jira.adapter import JiraAdapter
from itsm_align.integration.jira.settings import JiraSettings
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.integration.servicenow.settings import ServiceNowSettings
from itsm_align.webhooks.app import create_app
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.signatures import jira_signature, servicenow_signature

from .conftest import JIRA_SECRET, SN_SECRET, jira_fixture, servicenow_event

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
MAX_BODY = 32 * 1024

# ---------------------------------------------------------------- strategies
huge_numbers = st.sampled_from([2 ** 63, -(2 ** 63) - 1, 2 ** 64, 10 ** 400, -1, 0, 1e308, -1e308, 3.5])
odd_text = st.one_of(st.text(max_size=50), st.just("x" * 5000), st.just(""), st.just("\x00\ud7ff\u202e"),
                     st.just("../../etc/passwd"), st.just("SHOP-1; DROP TABLE inbox"))
scalars = st.one_of(st.none(), st.booleans(), huge_numbers, st.integers(), st.floats(allow_nan=False),
                    odd_text)
json_values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=20)


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.just(b"\xff\xfe\xfa invalid utf-8 \xc3\x28"),
    st.just(deep(100_000)),
    st.just(b'{"webhookEvent": "jira:issue_updated", "webhookEvent": 5}'),  # duplicate keys
    st.just(b'{"a":' * 5000 + b"1" + b"}" * 5000),
    st.just(b"x" * (MAX_BODY + 1)),
    json_values.map(lambda v: json.dumps(v).encode()),
)

JIRA_PATHS = [("webhookEvent",), ("issue",), ("issue", "key"), ("issue", "id"), ("issue", "fields"),
              ("issue", "fields", "project"), ("issue", "fields", "summary"), ("issue", "fields", "issuetype"),
              ("changelog",), ("changelog", "items"), ("user",), ("user", "accountId"), ("timestamp",),
              ("project",), ("project", "key")]
SN_FIELDS = ["event_id", "operation", "table", "sys_id", "sys_class_name", "sys_mod_count", "number",
             "sys_updated_on", "sys_updated_by", "fields", "display"]


def mutate(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    node: Any = out
    for part in path[:-1]:
        if not isinstance(node, dict):
            return out
        node = node.setdefault(part, {})
    if isinstance(node, dict):
        node[path[-1]] = value
    return out


headers_text = st.one_of(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
                         st.just("9" * 400), st.just("d" * 5000), st.just(""))
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/json; charset=latin-1", ""])


# ---------------------------------------------------------------- the app
@pytest.fixture(scope="module")
def service(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzz")
    jira = JiraAdapter(JiraSettings(url="http://127.0.0.1:9", email="bot@example.com", api_token="t",
                                    webhook_secret=JIRA_SECRET), MemoryStore())
    servicenow = ServiceNowAdapter(ServiceNowSettings(instance="https://127.0.0.1:9", user="svc", password="p",
                                                      webhook_secret=SN_SECRET), MemoryStore())
    for adapter in (jira, servicenow):
        adapter.serve_offline()
    app = create_app(service=ServiceSettings(database_url=f"sqlite:///{folder / 'fuzz.sqlite3'}",
                                             max_body_bytes=MAX_BODY, coalesce_seconds=0.0),
                     secrets={"jira": JIRA_SECRET, "servicenow": SN_SECRET},
                     adapters={"jira": jira, "servicenow": servicenow})
    app.testing = False  # a 500 must come back as a 500, not as an exception in the test
    yield app
    jira.close()
    servicenow.close()


def rows(app) -> int:  # type: ignore[no-untyped-def]
    return len(app.extensions["itsm_align"].inbox.rows())


def check(response, before: int, app) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert 200 <= response.status_code < 300 or 400 <= response.status_code < 500
    data = json.loads(response.get_data())
    assert data["status"] in {"accepted", "duplicate", "ignored", "rejected"}
    if response.status_code >= 400:
        assert data.get("reason"), "a refusal says why"
        assert rows(app) == before, "a refused delivery queued something"
    if response.status_code != 202:
        assert rows(app) == before


def still_accepts(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    body = jira_fixture("issue_updated_generic.json")
    response = client.post("/webhooks/jira", data=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature": jira_signature(JIRA_SECRET, body),
        "X-Atlassian-Webhook-Identifier": uuid.uuid4().hex})
    assert response.status_code == 202


def post(app, path: str, body: bytes, headers: dict[str, str], chunked: bool):  # type: ignore[no-untyped-def]
    client = app.test_client()
    if chunked:
        return client.post(path, input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True},
                           headers={**headers, "Transfer-Encoding": "chunked"})
    return client.post(path, data=body, headers=headers)


# ---------------------------------------------------------------- Jira
@FUZZ
@given(body=raw_bodies, signed=st.booleans(), delivery=st.one_of(st.none(), headers_text),
       content_type=content_types, chunked=st.booleans())
def test_jira_arbitrary_bodies(service, body: bytes, signed: bool, delivery, content_type: str, chunked: bool) -> None:  # type: ignore[no-untyped-def]
    headers = {"Content-Type": content_type,
               "X-Hub-Signature": jira_signature(JIRA_SECRET, body) if signed else "sha256=" + "0" * 64}
    if delivery is not None:
        headers["X-Atlassian-Webhook-Identifier"] = delivery
    before = rows(service)
    check(post(service, "/webhooks/jira", body, headers, chunked), before, service)
    still_accepts(service)


@FUZZ
@given(fixture=st.sampled_from(["issue_updated_generic.json", "issue_created.json", "epic_created.json"]),
       path=st.sampled_from(JIRA_PATHS), value=json_values, delivery=headers_text, chunked=st.booleans())
def test_jira_signed_deliveries_with_any_field_replaced(service, fixture, path, value, delivery, chunked) -> None:  # type: ignore[no-untyped-def]
    document = mutate(json.loads(jira_fixture(fixture)), path, value)
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": jira_signature(JIRA_SECRET, body),
               "X-Atlassian-Webhook-Identifier": delivery}
    before = rows(service)
    check(post(service, "/webhooks/jira", body, headers, chunked), before, service)
    still_accepts(service)


# ---------------------------------------------------------------- ServiceNow
def sn_headers(body: bytes, timestamp: str, signed: bool, event_id: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-ITSM-Align-Timestamp": timestamp,
               "X-ITSM-Align-Signature": servicenow_signature(SN_SECRET, timestamp, body) if signed else "AAAA"}
    if event_id is not None:
        headers["X-ITSM-Align-Event-Id"] = event_id
    return headers


@FUZZ
@given(body=raw_bodies, signed=st.booleans(), timestamp=st.one_of(headers_text, st.just(None)),
       event_id=st.one_of(st.none(), headers_text), chunked=st.booleans())
def test_servicenow_arbitrary_bodies(service, body, signed, timestamp, event_id, chunked) -> None:  # type: ignore[no-untyped-def]
    ts = str(int(time.time())) if timestamp is None else timestamp
    before = rows(service)
    check(post(service, "/webhooks/servicenow", body, sn_headers(body, ts, signed, event_id), chunked),
          before, service)
    still_accepts(service)


@FUZZ
@given(field=st.sampled_from(SN_FIELDS), value=json_values, chunked=st.booleans(), drop=st.booleans())
def test_servicenow_signed_events_with_any_field_replaced(service, field, value, chunked, drop) -> None:  # type: ignore[no-untyped-def]
    event = servicenow_event()
    if drop:
        event.pop(field)
    else:
        event[field] = value
    body = json.dumps(event).encode()
    event_id = event.get("event_id") if isinstance(event.get("event_id"), str) and event["event_id"].isascii() \
        and event["event_id"].isprintable() else None
    before = rows(service)
    check(post(service, "/webhooks/servicenow", body, sn_headers(body, str(int(time.time())), True, event_id),
               chunked), before, service)
    still_accepts(service)
