"""One contract, two platforms: every adapter behaves the same against its sandbox.

Each test uses only the Driver protocol (driver.py) and the PlatformAdapter
interface (integration/base.py), so it runs unchanged for Jira and ServiceNow.
"""
from __future__ import annotations

import pytest

from itsm_align.integration.base import PlatformAdapter, PlatformError, TransientError
from itsm_align.scoring.types import UNALIGNED, Nature, OutputValues, SetBy

from .driver import Driver


def values_for(driver: Driver, n: int = 0, *, score: int = 72) -> OutputValues:
    objective = driver.objectives[n % len(driver.objectives)]
    return OutputValues(objective=objective.id, score=score, rationale=f"{objective.name} ({score}): contract test",
                        nature=Nature.PROACTIVE, objective_set_by=SetBy.INTEGRATION)


def test_driver_honours_the_protocol(driver: Driver) -> None:
    assert isinstance(driver, Driver)
    assert isinstance(driver.adapter, PlatformAdapter)
    assert len(driver.objectives) >= 2


def test_an_event_is_normalised(driver: Driver) -> None:
    key = driver.create_ticket("Checkout fails for card payments", "customers cannot pay")
    payload, headers = driver.last_event(key)
    event = driver.adapter.parse_event(payload, headers)
    assert event.platform == driver.adapter.platform
    assert event.action == "upsert"
    assert event.subject == "ticket"
    item = driver.adapter.fetch(event.key, event.subject)
    assert item.key == key
    assert driver.adapter.is_own_echo(event) is False  # a person made it


def test_an_item_is_fetched_with_its_current_values(driver: Driver) -> None:
    key = driver.create_ticket("VPN drops every hour", "remote staff lose work")
    item = driver.adapter.fetch(key)
    assert item.key == key
    assert item.summary == "VPN drops every hour"
    assert "remote staff" in item.description
    assert item.current.objective is None
    assert item.current.objective_set_by == SetBy.NOBODY


def test_write_sends_only_changes_and_nothing_the_second_time(driver: Driver) -> None:
    key = driver.create_ticket("Upgrade the payment gateway")
    values = values_for(driver)
    first = driver.adapter.write(driver.adapter.fetch(key), values)
    assert len(first.changed) == 4
    held = driver.output_fields(key)
    assert (held.objective, held.score, held.rationale, held.nature) == (
        values.objective, float(values.score), values.rationale, values.nature)

    before = driver.write_requests()
    again = driver.adapter.write(driver.adapter.fetch(key), values)
    assert again.changed == ()
    assert driver.write_requests() == before

    only_score = OutputValues(values.objective, 80, values.rationale, values.nature, SetBy.INTEGRATION)
    third = driver.adapter.write(driver.adapter.fetch(key), only_score)
    assert len(third.changed) == 1
    assert driver.write_requests() == before + 1
    assert driver.output_fields(key).score == 80.0


def test_a_persons_objective_is_respected(driver: Driver) -> None:
    key = driver.create_ticket("Renew the datacenter contract")
    driver.adapter.write(driver.adapter.fetch(key), values_for(driver, 0))
    assert driver.adapter.fetch(key).current.objective_set_by == SetBy.INTEGRATION

    chosen = driver.objectives[1].id
    driver.person_sets_objective(key, chosen)
    item = driver.adapter.fetch(key)
    assert item.current.objective == chosen
    assert item.current.objective_set_by == SetBy.PERSON

    # whatever the rules say, the person's choice stands
    driver.adapter.write(item, values_for(driver, 2, score=30))
    held = driver.output_fields(key)
    assert held.objective == chosen
    assert held.score == 30.0


def test_unaligned_is_written_and_read_back(driver: Driver) -> None:
    key = driver.create_ticket("Tidy the wiki")
    values = OutputValues(UNALIGNED, 0, "No objective matched", Nature.PROACTIVE, SetBy.INTEGRATION)
    driver.adapter.write(driver.adapter.fetch(key), values)
    assert driver.output_fields(key).objective == UNALIGNED
    assert driver.adapter.fetch(key).current.objective == UNALIGNED


def test_a_backfill_pages_and_resumes(driver: Driver) -> None:
    keys = [driver.create_ticket(f"Back-fill ticket {n}") for n in range(5)]
    pages = list(driver.adapter.backfill(driver.backfill_query, page_size=2))
    seen = [item.key for items, _ in pages for item in items]
    assert sorted(seen) == sorted(keys)
    assert len(pages) >= 3
    assert pages[-1][1] is None
    assert all(token for _, token in pages[:-1])

    resumed = list(driver.adapter.backfill(driver.backfill_query, resume=pages[0][1], page_size=2))
    rest = [item.key for items, _ in resumed for item in items]
    assert sorted(rest) == sorted(seen[len(pages[0][0]):])


def test_write_many_writes_only_changes(driver: Driver) -> None:
    keys = [driver.create_ticket(f"Bulk ticket {n}") for n in range(4)]
    items = [driver.adapter.fetch(k) for k in keys]
    writes = [(item, values_for(driver, n % 2)) for n, item in enumerate(items)]
    results = driver.adapter.write_many(writes)
    assert [r.key for r in results] == keys
    assert all(r.changed and not getattr(r, "error", None) for r in results)
    for (item, values) in writes:
        assert driver.output_fields(item.key).objective == values.objective

    before = driver.write_requests()
    again = driver.adapter.write_many([(driver.adapter.fetch(k), v) for k, (_, v) in zip(keys, writes)])
    assert all(r.changed == () for r in again)
    assert driver.write_requests() == before


@pytest.mark.parametrize("status, kind", [(400, PlatformError), (500, TransientError)])
def test_a_platform_error_keeps_the_platforms_message(driver: Driver, status: int, kind: type) -> None:
    key = driver.create_ticket("Error path")
    driver.fail_next(status, "the platform says: quota of gizmos exceeded")
    with pytest.raises(kind) as caught:
        driver.adapter.fetch(key)
    assert "quota of gizmos exceeded" in str(caught.value)
    assert caught.value.status == status
    assert caught.value.retryable is (status >= 500)


# ---- optional capabilities: declared on the contract, with defaults --------------------

def test_plan_write_names_each_field_that_would_change_and_nothing_once_written(driver: Driver) -> None:
    key = driver.create_ticket("Plan the payment gateway upgrade")
    values = values_for(driver)
    before = driver.write_requests()
    plan = driver.adapter.plan_write(driver.adapter.fetch(key), values)
    assert len(plan) == 4 and all(new for _, new in plan.values())
    assert driver.write_requests() == before  # planning writes nothing
    driver.adapter.write(driver.adapter.fetch(key), values)
    assert driver.adapter.plan_write(driver.adapter.fetch(key), values) == {}


def test_count_item_url_and_requests_sent(driver: Driver) -> None:
    keys = [driver.create_ticket(f"Counted ticket {n}") for n in range(3)]
    sent = driver.adapter.requests_sent
    item = driver.adapter.fetch(keys[0])
    assert driver.adapter.requests_sent > sent  # every request to the platform is counted
    counted = driver.adapter.count(driver.backfill_query)
    assert counted is None or counted == 3
    url = driver.adapter.item_url(item)
    assert url is None or (url.startswith(("http://", "https://")) and (item.id in url or item.key in url))


def test_configure_changes_what_fetch_reads_and_keeps_the_objectives(driver: Driver) -> None:
    key = driver.create_ticket("Configure me", "a description the rules read")
    driver.adapter.configure(fields_read={"summary"})
    assert driver.adapter.fetch(key).summary == "Configure me"
    driver.adapter.configure(fields_read={"summary", "description"})
    assert "rules read" in driver.adapter.fetch(key).description
    values = values_for(driver, 1)
    assert driver.adapter.write(driver.adapter.fetch(key), values).changed  # objectives still known


def test_rollup_capabilities_are_consistent(driver: Driver) -> None:
    key = driver.create_ticket("Rolled up somewhere")
    item = driver.adapter.fetch(key)
    project = driver.adapter.rollup_project_of(item)
    assert project is None or isinstance(project, str) and project
    assert isinstance(driver.adapter.rollup_in_item_fields, bool)
    assert driver.adapter.failure("NO-SUCH-KEY") is None  # nothing failed for an item never written


def test_the_defaults_serve_an_adapter_that_declares_only_the_abstract_methods() -> None:
    from itsm_align.scoring.types import WorkItem

    class Minimal(PlatformAdapter):
        platform = "minimal"

        def parse_event(self, payload, headers):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def is_own_echo(self, event):  # type: ignore[no-untyped-def]
            return False

        def fetch(self, key, subject="ticket"):  # type: ignore[no-untyped-def]
            return WorkItem(platform="minimal", key=key)

        def write(self, item, values):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def backfill(self, query=None, *, resume=None, page_size=None, **extra):  # type: ignore[no-untyped-def]
            yield [], None

        def write_many(self, writes):  # type: ignore[no-untyped-def]
            return []

        def setup(self, objectives, *, dry_run=False):  # type: ignore[no-untyped-def]
            return []

        def write_project_rollup(self, project_key, rollup):  # type: ignore[no-untyped-def]
            return None

    adapter = Minimal()
    item = adapter.fetch("M-1")
    values = OutputValues("x", 50, "why", Nature.REACTIVE, SetBy.INTEGRATION)
    plan = adapter.plan_write(item, values)
    assert set(plan) == {"objective", "score", "rationale", "nature"} and plan["score"] == ("", "50")
    assert adapter.rollup_project_of(item) is None and adapter.count() is None and adapter.item_url(item) is None
    assert adapter.requests_sent == 0 and adapter.rollup_in_item_fields is False and adapter.failure("M-1") is None
    adapter.configure(objectives=[], fields_read={"summary"}, public_url="https://x.example")
    adapter.close()
