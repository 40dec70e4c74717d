"""The sandboxes' web pages in a real headless Chromium, over real sockets.

For each sandbox a person signs in, opens the list, opens a ticket the product
has already assessed (``setup`` and ``backfill`` run with the shipped
config/sandbox.yaml), creates a ticket, edits its description and sets its
objective by hand; the sandbox must record each change as that person and send
the same event a change in the platform sends (Jira: a webhook delivery to the
URL ``setup jira`` registered; ServiceNow: the business rule's signed event).
No page may log a console error. Screenshots go to artifacts/screenshots/
(sandbox-jira-ticket.png is the README's, copied to docs/img/).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli
from tests.e2e.conftest import ARGS  # noqa: F401  (the browser fixture's launch flags)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "sandbox.yaml"


def run_product(env: dict[str, str], *commands: list[str]) -> None:
    """``itsm-align <command> --config config/sandbox.yaml`` for each command, as the README says."""
    for command in commands:
        result = CliRunner(env=env).invoke(cli, [*command, "--config", str(CONFIG)], catch_exceptions=False)
        assert result.exit_code == 0, f"itsm-align {' '.join(command)}: {result.output}"


def sign_in(page: Any, url: str, login: str, password: str) -> None:
    page.goto(f"{url}/sandbox/")
    page.wait_for_url("**/sandbox/login**")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")


def received(receiver: Any, n: int, test: Any) -> list[dict[str, Any]]:
    """Bodies of what the receiver got, once ``n`` of them pass ``test``."""
    import time

    deadline = time.monotonic() + 10
    while True:
        bodies = [json.loads(r.body) for r in receiver.received if r.body]
        matching = [b for b in bodies if test(b)]
        if len(matching) >= n or time.monotonic() > deadline:
            return matching
        time.sleep(0.05)


# ---------------------------------------------------------------- Jira
@pytest.fixture
def jira_shop(jira_sandbox: Any, webhook_receiver: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """SHOP with an epic and a story, assessed by the product through the
    integration account; the webhook ``setup jira`` registers points at the receiver."""
    jira = jira_sandbox
    jira.add_field("Story Points", "float", searcher="numberrange")  # as on a Jira Software site
    jira.add_project("SHOP", "Web Shop", description="The storefront: catalogue, search, basket and checkout.")
    points = jira.field_id("Story Points")
    epic = jira.create_issue("SHOP", "Checkout conversion push for peak season", issuetype="Epic",
                             description="Lift checkout conversion from 2.6% to 3.2% before the November peak.")
    story = jira.create_issue(
        "SHOP", "Guest checkout without creating an account",
        "Customers abandon the basket when we ask them to register. Let them pay as a guest and offer "
        "an account after the order is placed.\n\nAcceptance: guest orders show in order tracking; "
        "no change to fraud checks.", issuetype="Story", fields={"parent": {"key": epic}, points: 8})
    env = {"ITSM_ALIGN_JIRA_URL": jira.url, "ITSM_ALIGN_PUBLIC_URL": webhook_receiver.url,
           "ITSM_ALIGN_DATABASE_URL": f"sqlite:///{tmp_path / 'service.sqlite3'}"}
    run_product(env, ["setup", "jira"], ["backfill", "jira"])
    yield {"jira": jira, "epic": epic, "story": story}


def test_jira_pages_a_person_uses(page: Any, jira_shop: dict[str, Any], webhook_receiver: Any,
                                  screenshots: Path) -> None:
    jira, story = jira_shop["jira"], jira_shop["story"]
    admin = jira.admin_user.account_id
    sign_in(page, jira.url, jira.ADMIN_EMAIL, jira.ADMIN_TOKEN)

    # the list: issues by project, with the objective the product wrote
    page.wait_for_url("**/sandbox/issues")
    page.click("a[data-project=SHOP]")
    row = page.locator(f"tr[data-key='{story}']")
    assert "Grow online revenue" in row.inner_text()
    page.screenshot(path=str(screenshots / "sandbox-jira-list.png"), full_page=True)

    # the ticket as the platform shows it, with its four fields set by the integration
    row.locator("a").first.click()
    page.wait_for_url(f"**/sandbox/browse/{story}")
    alignment = page.locator("[data-testid=alignment]")
    assert "Grow online revenue" in alignment.inner_text()
    assert alignment.locator("[data-field='Alignment Score'] .score").inner_text().isdigit()
    assert "integration set by itsm-align" in alignment.locator("[data-field='Business Objective']").inner_text().lower()
    assert jira_shop["epic"] in page.locator("[data-testid=parent]").inner_text()
    page.screenshot(path=str(screenshots / "sandbox-jira-ticket.png"), full_page=True)

    # create an issue: jira:issue_created from the person
    before = len(webhook_receiver.received)
    page.click("text=Create issue")
    page.select_option("#project", "SHOP")
    page.select_option("#issuetype", "Bug")
    page.fill("#summary", "Promo code field clears when the address form reloads")
    page.fill("#description", "Seen on mobile Safari.")
    page.click("button:has-text('Create')")
    page.wait_for_url("**/sandbox/browse/SHOP-3")
    assert "sent to 1 listener" in page.locator(".flash").inner_text()
    created = received(webhook_receiver, 1, lambda b: b.get("webhookEvent") == "jira:issue_created"
                       and b["issue"]["key"] == "SHOP-3")
    assert created and created[0]["user"]["accountId"] == admin
    assert len(webhook_receiver.received) > before

    # edit its description: jira:issue_updated, changelog by the person
    page.click("summary:has-text('Edit summary and description')")
    page.fill("#description", "Seen on mobile Safari and Chrome on Android; the basket keeps the code.")
    with page.expect_navigation():
        page.click("form[action$='/edit'] button[type=submit]")
    assert "Chrome on Android" in page.locator("[data-testid=description]").inner_text()
    edited = received(webhook_receiver, 1, lambda b: b.get("webhookEvent") == "jira:issue_updated"
                      and b["issue"]["key"] == "SHOP-3"
                      and [i["field"] for i in b["changelog"]["items"]] == ["description"])
    assert edited and edited[0]["user"]["accountId"] == admin

    # set the objective by hand on the assessed story: a person's override
    page.goto(f"{jira.url}/browse/{story}")  # Jira's own URL lands on the page
    page.wait_for_url(f"**/sandbox/browse/{story}")
    page.select_option("#objective", "Cut run costs")
    with page.expect_navigation():
        page.click("form.override button[type=submit]")
    objective = page.locator("[data-field='Business Objective']").inner_text()
    assert "Cut run costs" in objective and "person set by Alice Admin" in objective.lower().replace("alice admin", "Alice Admin")
    overridden = received(webhook_receiver, 1, lambda b: b.get("webhookEvent") == "jira:issue_updated"
                          and b["issue"]["key"] == story
                          and any(i["field"] == "Business Objective" for i in b["changelog"]["items"]))
    assert overridden and overridden[-1]["user"]["accountId"] == admin
    assert overridden[-1]["changelog"]["items"][0]["toString"] == "Cut run costs"
    last = jira.issue(story)["changelog"]["histories"][0]
    assert last["author"]["accountId"] == admin and last["items"][0]["field"] == "Business Objective"
    page.screenshot(path=str(screenshots / "sandbox-jira-override.png"), full_page=True)
    assert page.errors == []


# ---------------------------------------------------------------- ServiceNow
@pytest.fixture
def sn_context(browser: Any) -> Iterator[Any]:
    """A page that trusts the sandbox's throw-away certificate (it is signed by a CA made at start)."""
    from tests.e2e.conftest import ConsoleErrors

    context = browser.new_context(viewport={"width": 1440, "height": 900}, ignore_https_errors=True)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.errors = ConsoleErrors().watch(opened)
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def sn_desk(servicenow_sandbox: Any, event_receiver: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An incident assessed by the product (setup + backfill with config/sandbox.yaml); the
    business rule posts to the receiver."""
    sn = servicenow_sandbox
    incident = sn.insert("incident", {
        "short_description": "Checkout page times out for customers paying by card",
        "description": "Since 09:40 about one card payment in five times out after 30 s.",
        "priority": "2", "business_service": "Customer Portal", "assignment_group": "Software"})
    env = {"ITSM_ALIGN_SN_INSTANCE": sn.url, "ITSM_ALIGN_SN_CA_BUNDLE": sn.ca_pem_path,
           "ITSM_ALIGN_DATABASE_URL": f"sqlite:///{tmp_path / 'service.sqlite3'}"}
    run_product(env, ["setup", "servicenow"], ["backfill", "servicenow"])
    sn.set_property("itsm_align.endpoint", event_receiver.url)
    sn.set_property("itsm_align.secret", "servicenow-sandbox-webhook-secret")
    yield {"sn": sn, "incident": incident}


def test_servicenow_pages_a_person_uses(sn_context: Any, sn_desk: dict[str, Any], event_receiver: Any,
                                        screenshots: Path) -> None:
    page, sn, incident = sn_context, sn_desk["sn"], sn_desk["incident"]
    sign_in(page, sn.url, "admin", sn.admin_password)

    # the incident list, then the assessed incident as a form
    page.wait_for_url("**/sandbox/list/incident")
    row = page.locator(f"tr[data-number='{incident['number']}']")
    assert row.locator(".objective").inner_text().strip() != ""
    page.screenshot(path=str(screenshots / "sandbox-servicenow-list.png"), full_page=True)
    row.locator("a").first.click()
    page.wait_for_url(f"**/sandbox/record/incident/{incident['sys_id']}")
    alignment = page.locator("[data-testid=alignment]")
    assert "set by itsm-align integration" in alignment.inner_text()
    assert alignment.locator("[data-field=u_alignment_score] .score-inline").inner_text().isdigit()
    page.screenshot(path=str(screenshots / "sandbox-servicenow-record.png"), full_page=True)

    # a new incident: the rule posts an insert event by admin
    page.goto(f"{sn.url}/incident.do?sys_id=-1")  # the platform's "new record" URL
    page.wait_for_url("**/sandbox/new/incident")
    page.fill("#short_description", "Order tracking page shows the wrong parcel")
    page.fill("#description", "Two customers saw another customer's parcel.")
    page.select_option("#priority", "3")
    page.click("button:has-text('Submit')")
    page.wait_for_url("**/sandbox/record/incident/*")
    assert "posted an event" in page.locator(".flash").inner_text()
    number = page.locator("[data-testid=number]").inner_text().strip()
    sys_id = page.url.rsplit("/", 1)[1]
    inserted = received(event_receiver, 1, lambda b: b["operation"] == "insert" and b["number"] == number)
    assert inserted and inserted[0]["sys_updated_by"] == "admin"

    # edit its description: an update event by admin, an audit row in its name
    page.fill("#description", "Two customers saw another customer's parcel; privacy team informed.")
    with page.expect_navigation():
        page.click("button:has-text('Update')")
    updated = received(event_receiver, 1, lambda b: b["operation"] == "update" and b["number"] == number
                       and "privacy team" in b["fields"].get("description", ""))
    assert updated and updated[0]["sys_updated_by"] == "admin"

    # set the objective by hand on the assessed incident
    page.goto(f"{sn.url}/incident.do?sys_id={incident['sys_id']}")
    page.wait_for_url(f"**/sandbox/record/incident/{incident['sys_id']}")
    page.select_option("#u_business_objective", "compliance")
    with page.expect_navigation():
        page.click("button:has-text('Update')")
    objective = page.locator("[data-field=u_business_objective] [data-testid=set-by]").inner_text()
    assert objective.lower().startswith("person set by system administrator")
    overridden = received(event_receiver, 1, lambda b: b["sys_id"] == incident["sys_id"]
                          and b["fields"].get("u_business_objective") == "compliance")
    assert overridden and overridden[0]["sys_updated_by"] == "admin"
    audit = sn.query("sys_audit", f"documentkey={incident['sys_id']}^fieldname=u_business_objective")
    assert audit[-1]["user"] == "admin" and audit[-1]["newvalue"] == "compliance"
    page.screenshot(path=str(screenshots / "sandbox-servicenow-override.png"), full_page=True)
    assert page.errors == []
