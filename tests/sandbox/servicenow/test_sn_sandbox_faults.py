"""The ServiceNow sandbox's fault modes: chaos, Retry-After accounting, outage."""
from __future__ import annotations

import time

import pytest
import requests

from tests.webhooks.live import wait_until


def test_chaos_fails_only_the_integration_users_api_requests(servicenow_sandbox):  # type: ignore[no-untyped-def]
    sn = servicenow_sandbox
    url = f"{sn.url}/api/now/table/incident"
    sn.seed("incident", 3)
    chaos = sn.chaos(error_rate=0.5, status=502, every_nth_429=4, retry_after=0, seed=3)
    ours, person = sn.client_session(), sn.client_session("admin")
    statuses = [ours.get(url, params={"sysparm_limit": 1}, timeout=10).status_code for _ in range(40)]
    assert [s for n, s in enumerate(statuses, 1) if n % 4 == 0] == [429] * 10
    others = [s for n, s in enumerate(statuses, 1) if n % 4]
    assert set(others) == {200, 502} and 5 <= others.count(502) <= 25
    assert chaos.answered == {429: 10, 502: others.count(502)}
    # the person acting in the test is never failed
    assert {person.get(url, params={"sysparm_limit": 1}, timeout=10).status_code for _ in range(10)} == {200}
    # and the same seed fails the same requests again
    sn.chaos(error_rate=0.5, status=502, every_nth_429=4, retry_after=0, seed=3)
    assert [ours.get(url, params={"sysparm_limit": 1}, timeout=10).status_code for _ in range(40)] == statuses
    sn.calm()
    assert {ours.get(url, params={"sysparm_limit": 1}, timeout=10).status_code for _ in range(5)} == {200}


def test_chaos_429_carries_retry_after(servicenow_sandbox):  # type: ignore[no-untyped-def]
    sn = servicenow_sandbox
    sn.chaos(error_rate=0.0, every_nth_429=1, retry_after=3)
    answer = sn.client_session().get(f"{sn.url}/api/now/table/incident", timeout=10)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"
    assert answer.json()["error"]["message"] == "Rate limit exceeded"


def test_requests_inside_retry_after_are_counted_per_user(servicenow_sandbox):  # type: ignore[no-untyped-def]
    sn = servicenow_sandbox
    url = f"{sn.url}/api/now/table/incident"
    ours, person = sn.client_session(), sn.client_session("admin")
    sn.retry_after_grace = 0.0  # this client sends one request at a time: nothing is in flight
    sn.inject(method="GET", status=429, retry_after=30)
    assert ours.get(url, timeout=10).status_code == 429
    wait_until(lambda: sn.retry_afters_sent == 1, 5, "the 429 to be sent")
    assert sn.retry_after_violations == []
    assert ours.get(url, timeout=10).status_code == 200  # inside the window: answered, but counted
    assert person.get(url, timeout=10).status_code == 200  # someone else: not counted
    (violation,) = sn.retry_after_violations
    assert violation.user == sn.integration_user and violation.method == "GET"
    assert 25 < violation.early_by <= 30
    sn.reset()
    assert sn.retry_after_violations == [] and sn.retry_afters_sent == 0


def test_requests_already_in_flight_and_after_the_window_are_not_violations(servicenow_sandbox):  # type: ignore[no-untyped-def]
    sn = servicenow_sandbox
    url = f"{sn.url}/api/now/table/incident"
    ours = sn.client_session()
    sn.inject(method="GET", status=429, retry_after=1)
    assert ours.get(url, timeout=10).status_code == 429
    wait_until(lambda: sn.retry_afters_sent == 1, 5, "the 429 to be sent")
    told_at = time.time()
    assert ours.get(url, timeout=10).status_code == 200
    # within 5 s of the 429 everything counts as "already on its way"; without grace it is a violation
    assert sn.retry_after_violations_after(5.0) == []
    (early,) = sn.retry_after_violations_after(0.0)
    assert 0 <= early.after_429 < 1
    wait_until(lambda: time.time() > told_at + 1.05, 5, "the 1-second Retry-After to elapse")
    assert ours.get(url, timeout=10).status_code == 200
    assert len(sn.retry_after_violations_after(0.0)) == 1  # the request after the window is not one


def test_outage_refuses_connections_then_serves_again_on_the_same_port(servicenow_sandbox):  # type: ignore[no-untyped-def]
    sn = servicenow_sandbox
    url = f"{sn.url}/api/now/table/incident"
    sys_id = sn.seed("incident", 1)[0]
    session = sn.client_session()
    assert session.get(url, timeout=10).status_code == 200  # a kept-alive connection
    with sn.outage():
        assert not sn.serving
        with pytest.raises(requests.ConnectionError):
            session.get(url, timeout=10)
        with pytest.raises(requests.ConnectionError):
            sn.client_session().get(url, timeout=10)
        # the instance lives on: a person's change is stored meanwhile
        sn.update_as("admin", "incident", sys_id, {"short_description": "changed while down"})
    assert sn.serving
    again = session.get(f"{url}/{sys_id}", timeout=10)
    assert again.status_code == 200 and again.json()["result"]["short_description"] == "changed while down"
