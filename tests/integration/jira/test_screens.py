"""``setup`` on a site configured as admins really do it: projects on their own
screen schemes, a field taken off a screen, 429s while checking screens,
team-managed projects. Everything over real sockets against the sandbox."""
from __future__ import annotations

import math

import pytest

from itsm_align.integration.base import MemoryStore, NotWritable, SetupIncomplete
from itsm_align.integration.jira import JiraAdapter
from itsm_align.integration.jira.screens import projects_in_jql
from itsm_align.scoring.types import Nature, OutputValues, SetBy
from tests.contract.jira_driver import OBJECTIVES, is_write, jira_settings

NAMES = ("Business Objective", "Alignment Score", "Alignment Rationale", "Work Nature")
VALUES = OutputValues("revenue", 72, "Grow online revenue (72): screens", Nature.PROACTIVE, SetBy.INTEGRATION)


def writes(sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests if is_write(r.method, r.path)]


def no_sleep(seconds: float) -> None:
    """The retry policy's waits are tested with real time in the 429 test only."""


@pytest.fixture
def site(jira_sandbox):
    """ITSM on the default scheme, PAY and SHOP on their own (Scrum template)
    schemes, OPS sharing PAY's scheme."""
    jira_sandbox.add_project("PAY", "Payments", screens="own")
    jira_sandbox.add_project("SHOP", "Web shop", screens="own")
    jira_sandbox.add_project("OPS", "Operations", scheme_of="PAY")
    return jira_sandbox


def adapter_for(sandbox, jql: str = "project in (ITSM, PAY, SHOP, OPS)", **kwargs) -> JiraAdapter:
    return JiraAdapter(jira_settings(sandbox, jql=jql), MemoryStore(), objectives=OBJECTIVES, **kwargs)


def test_jql_scope() -> None:
    assert projects_in_jql("project = PAY") == ["PAY"]
    assert projects_in_jql("project in (PAY, shop) AND issuetype = Bug ORDER BY key") == ["PAY", "SHOP"]
    assert projects_in_jql('project = "OPS" and labels = x') == ["OPS"]
    assert projects_in_jql("project = PAY OR labels = x") is None
    assert projects_in_jql("issuetype = Bug") is None
    assert projects_in_jql(None) is None


def test_setup_puts_the_fields_on_every_screen_of_every_project_in_scope(site) -> None:
    adapter = adapter_for(site)
    steps = adapter.setup(OBJECTIVES)
    ids = [site.field_id(n) for n in NAMES]
    for project in ("ITSM", "PAY", "SHOP", "OPS"):
        for issuetype in ("Task", "Bug", "Story"):
            assert all(site.on_screen(fid, project, issuetype) for fid in ids), (project, issuetype)
    changed = {s.target for s in steps if s.action == "put fields on screen" and s.done}
    assert {f"{n} ({site.screen_id(n)})" for n in ("PAY: Scrum Default Screen", "PAY: Scrum Bug Screen",
                                                    "SHOP: Scrum Default Screen", "SHOP: Scrum Bug Screen",
                                                    "Default Screen")} == changed
    bug = next(s for s in steps if s.target.startswith("PAY: Scrum Bug Screen"))
    assert "OPS (Bug)" in bug.detail and "PAY (Bug)" in bug.detail

    # a write in PAY now goes through, Bug and Task alike
    for issuetype in ("Bug", "Task"):
        key = site.create_issue("PAY", f"Card declined ({issuetype})", issuetype=issuetype)
        assert adapter.write(adapter.fetch(key), VALUES).changed
        assert site.value(key, ids[0]) == "Grow online revenue"


def test_dry_run_lists_every_screen_it_would_change_and_changes_nothing(site) -> None:
    adapter = adapter_for(site)
    steps = adapter.setup(OBJECTIVES, dry_run=True)
    assert writes(site) == []
    planned = sorted(s.target.rsplit(" (", 1)[0] for s in steps if s.action == "put fields on screen" and s.needed)
    assert planned == ["Default Screen", "PAY: Scrum Bug Screen", "PAY: Scrum Default Screen",
                       "SHOP: Scrum Bug Screen", "SHOP: Scrum Default Screen"]
    assert all("Business Objective" in s.detail for s in steps if s.action == "put fields on screen")

    adapter.setup(OBJECTIVES)  # a set-up site: the dry run plans nothing for screens
    steps = adapter.setup(OBJECTIVES, dry_run=True)
    assert not [s for s in steps if s.action == "put fields on screen" and s.needed]


def test_a_second_run_changes_nothing_and_asks_jira_again(site) -> None:
    adapter_for(site).setup(OBJECTIVES)
    site.clear_requests()
    steps = adapter_for(site).setup(OBJECTIVES)  # another process: nothing remembered locally
    assert writes(site) == []
    assert not any(s.needed for s in steps if "webhook" not in s.action)
    asked = [r.path for r in site.requests]
    assert any(p.endswith("/issuetypescreenscheme/project") for p in asked)
    assert sum(1 for p in asked if p.endswith("/fields")) >= 5  # every screen's tab read again


def test_a_field_taken_off_a_screen_gives_a_setup_error_naming_it_and_setup_puts_it_back(site) -> None:
    adapter = adapter_for(site)
    adapter.setup(OBJECTIVES)
    score = site.field_id("Alignment Score")
    site.remove_from_screen("PAY: Scrum Bug Screen", score)  # an admin tidies the screen
    key = site.create_issue("PAY", "Refund fails for Amex", issuetype="Bug")
    with pytest.raises(SetupIncomplete) as caught:
        adapter.write(adapter.fetch(key), VALUES)
    message = caught.value.message
    assert "project PAY" in message and "issue type Bug" in message
    assert f"PAY: Scrum Bug Screen ({site.screen_id('PAY: Scrum Bug Screen')})" in message
    assert "cannot be set" in message and "itsm-align setup jira" in message
    assert not caught.value.retryable

    steps = adapter.setup(OBJECTIVES)
    (fixed,) = [s for s in steps if s.done]
    assert fixed.target.startswith("PAY: Scrum Bug Screen") and "Alignment Score" in fixed.detail
    assert adapter.write(adapter.fetch(key), VALUES).changed


def test_bulk_edit_refusals_name_project_issue_type_and_screen(site) -> None:
    adapter = adapter_for(site, sleep=no_sleep)
    adapter.setup(OBJECTIVES)
    for screen in ("PAY: Scrum Bug Screen", "PAY: Scrum Default Screen"):
        site.remove_from_screen(screen, site.field_id("Alignment Score"))
    keys = [site.create_issue("PAY", f"Chargeback {n}", issuetype="Bug") for n in range(4)]
    results = adapter.write_many([(adapter.fetch(k), VALUES) for k in keys])
    assert any(r.path.endswith("/bulk/issues/fields") for r in site.requests)
    for result in results:
        assert result.error is not None and "PAY: Scrum Bug Screen" in result.error
        assert "issue type Bug" in result.error and "itsm-align setup jira" in result.error


def test_a_429_while_checking_screens_is_waited_out_never_read_as_missing(site) -> None:
    adapter = adapter_for(site)
    adapter.setup(OBJECTIVES)
    site.clear_requests()
    site.inject(r"/screens/\d+/tabs/\d+/fields$", method="GET", status=429, count=3, retry_after=1)
    site.inject(r"/issuetypescreenscheme/mapping$", status=429, count=1, retry_after=1)
    steps = adapter_for(site).setup(OBJECTIVES)  # real sleeps: the waits are what is tested
    assert writes(site) == []  # no field re-added: a 429 never reads as "not on the screen"
    assert not any(s.needed for s in steps if "webhook" not in s.action)
    log = site.requests
    limited = [r for r in log if r.status == 429]
    assert len(limited) == 4
    for answer in limited:
        wait = int(answer.response_headers["Retry-After"])
        after = [r for r in log if r.received > answer.at - 1e-3 and r is not answer]
        assert after, "set-up stopped after a 429"
        assert min(r.received for r in after) >= answer.at + wait - 0.01, "a request went out inside Retry-After"


def test_setup_under_429_bursts_on_a_fresh_site_completes(site) -> None:
    site.inject(r"/rest/api/3/", status=429, count=2, retry_after=1)
    adapter = adapter_for(site)
    adapter.setup(OBJECTIVES)
    ids = [site.field_id(n) for n in NAMES]
    assert all(site.on_screen(fid, "PAY", "Bug") for fid in ids)
    limited = [r for r in site.requests if r.status == 429]
    for answer in limited:
        later = [r.received for r in site.requests if r.received >= answer.at]
        assert min(later) >= answer.at + math.ceil(1) - 0.01


def test_team_managed_projects_are_explained_and_reported_once(jira_sandbox) -> None:
    sandbox = jira_sandbox
    sandbox.add_project("TEAM", "Growth squad", team_managed=True)
    adapter = adapter_for(sandbox, jql="project in (ITSM, TEAM)")
    steps = adapter.setup(OBJECTIVES)
    (note,) = [s for s in steps if s.target == "TEAM"]
    assert note.action == "team-managed project" and note.needed and not note.done
    assert "team-managed" in note.detail and "company-managed" in note.detail
    assert "support.atlassian.com" in note.detail

    first, second = (sandbox.create_issue("TEAM", f"Experiment {n}") for n in range(2))
    with pytest.raises(NotWritable, match="TEAM is a team-managed project"):
        adapter.write(adapter.fetch(first), VALUES)
    result = adapter.write(adapter.fetch(second), VALUES)  # reported once: later items are skipped
    assert result.skipped and "team-managed" in result.skipped and not result.changed and result.error is None
    more = [sandbox.create_issue("TEAM", f"Bulk {n}") for n in range(3)]
    results = adapter.write_many([(adapter.fetch(k), VALUES) for k in more])
    assert all(r.skipped and r.error is None for r in results)
