"""The dashboard and the survey form in a real headless Chromium, over a real socket.

The service runs on 127.0.0.1 (LiveService) with a seeded history; every page must load
with no console error, draw its charts (plotly divs with SVG), change its numbers when a
filter changes, drill down to the right items, and show a survey answer given in the
browser. Screenshots are saved for people to look at (see conftest.py).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from itsm_align.reports import render_report
from itsm_align.webhooks.app import create_app
from itsm_align.webhooks.dashboard import JiraLinks, PlatformLinks, ServiceNowLinks
from itsm_align.webhooks.settings import DashboardSettings, ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.surveys import Answer, Surveys
from tests.webhooks.dashboard_seed import JIRA, OBJECTIVES, RULE_OBJECTIVES, SN, current, seed_history
from tests.webhooks.live import LiveService

READ = "read-token-for-the-business-side"
ADMIN = "admin-token-for-the-it-admins-0"
CHARTS = ("effort", "nature", "trend", "scores", "unaligned")


class Service:
    def __init__(self, tmp: Path) -> None:
        self.engine = create_db_engine(f"sqlite:///{tmp / 'service.sqlite3'}")
        self.rows = seed_history(History(self.engine))
        self.surveys = Surveys(self.engine)
        # an earlier round, imported from a Forms export
        earlier, _ = self.surveys.create_round("2026-Q3 business survey")
        self.surveys.import_answers(earlier.id, [
            Answer("Maria Chen", "E-commerce", "revenue", 5, 3, "Mobile checkout still loses customers"),
            Answer("Maria Chen", "E-commerce", "cx", 4, 2, "Order tracking questions flood the service desk"),
            Answer("Tom Berg", "Finance", "cost", 5, 2, "Cloud spend grew 18% this year"),
            Answer("Tom Berg", "Finance", "compliance", 4, 4, ""),
            Answer("Ines Duarte", "Legal", "compliance", 5, 3, "Need faster answers on data subject requests"),
            Answer("Ines Duarte", "Legal", "security", 4, 3, ""),
            Answer("Sam Okafor", "Operations", "reliability", 5, 2, "Two checkout outages in peak week"),
            Answer("Sam Okafor", "Operations", "revenue", 3, 3, ""),
        ])
        app = create_app(ServiceSettings(database_url=str(self.engine.url), public_url=None),
                         secrets={"jira": "s" * 32}, db_engine=self.engine, objectives=OBJECTIVES,
                         dashboard=DashboardSettings(read_tokens=[READ], admin_tokens=[ADMIN], refresh_seconds=0),
                         links=PlatformLinks(JiraLinks(JIRA), ServiceNowLinks(SN)),
                         rule_objectives=RULE_OBJECTIVES, warm=False)
        self.live = LiveService(app).start()
        self.url = self.live.url

    def close(self) -> None:
        self.live.close()
        self.engine.dispose()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = Service(tmp_path_factory.mktemp("browser"))
    yield running
    running.close()


def sign_in(page, service: Service, token: str = READ) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{service.url}/dashboard/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{service.url}/dashboard/")


def charts_drawn(page, names=CHARTS) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("body[data-charts=ready]")
    for name in names:
        page.wait_for_selector(f"#chart-{name}[data-rendered=true] svg.main-svg", state="attached")
    page.wait_for_load_state("networkidle")


def tile(page, index: int) -> str:  # type: ignore[no-untyped-def]
    return page.locator("#tiles .tile .value").nth(index).inner_text()


def test_the_overview_loads_and_draws_every_chart(page, service, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, service)
    charts_drawn(page)
    for name in CHARTS:
        bars_or_lines = page.locator(f"#chart-{name} .cartesianlayer .trace")
        assert bars_or_lines.count() >= 1, name
    assert tile(page, 0) == f"{len(current(service.rows)):,}"
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
    # the first screen and a half, as the README shows it (docs/img/dashboard.png)
    page.screenshot(path=str(screenshots / "dashboard-top.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1440, "height": 1330})
    assert page.errors == []


def test_a_filter_changes_the_numbers_shown(page, service, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, service)
    charts_drawn(page)
    before = tile(page, 0)
    page.select_option("select[name=project]", "SHOP")  # applies at once
    page.wait_for_url(re.compile(r"project=SHOP"))
    charts_drawn(page)
    shop = [r for r in current(service.rows).values() if r.project == "SHOP"]
    assert tile(page, 0) == f"{len(shop):,}" != before
    assert "Project: SHOP" in page.inner_text(".active-filters")
    page.screenshot(path=str(screenshots / "dashboard-filtered.png"), full_page=True)
    assert page.errors == []


def test_a_number_drills_down_to_its_items(page, service, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, service)
    page.click('#alignment tr[data-objective="reliability"] a.items')
    page.wait_for_url(re.compile(r"/dashboard/items\?objective=reliability"))
    expected = {r.key for r in current(service.rows).values() if r.objective == "reliability"}
    listed = set(page.locator("#item-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)"))
    assert listed == expected
    jira = page.get_attribute("#native a[data-platform=jira]", "href")
    servicenow = page.get_attribute("#native a[data-platform=servicenow]", "href")
    assert jira.startswith(f"{JIRA}/issues/?jql=key%20in%20%28") and servicenow.startswith(f"{SN}/task_list.do?")
    first = page.locator("#item-table tbody tr a").first
    assert first.get_attribute("href").startswith((f"{JIRA}/browse/", f"{SN}/"))
    page.screenshot(path=str(screenshots / "drill-down.png"), full_page=True)
    assert page.errors == []


def test_clicking_a_bar_opens_the_items_behind_it(page, service) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, service)
    charts_drawn(page, ("scores",))
    page.locator("#chart-scores").scroll_into_view_if_needed()
    bars = page.locator("#chart-scores .cartesianlayer .trace.bars .point path")
    box = next(b for b in (bars.nth(i).bounding_box() for i in range(bars.count())) if b["height"] > 4)
    # plotly's drag layer takes the pointer over the plot, as for a person's click
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"/dashboard/items\?score="))
    low, high = map(int, re.search(r"score=(\d+)-(\d+)", page.url).groups())
    scores = page.locator("#item-table tbody td.num:nth-child(4)").all_inner_texts()
    assert scores and all(low <= int(score) <= high for score in scores)
    assert page.errors == []


def test_a_survey_answer_from_the_browser_reaches_the_dashboard_and_report(page, service, screenshots) -> None:  # type: ignore[no-untyped-def]
    _, (token,) = service.surveys.create_round("2026-Q4 business survey", invitations=1)
    page.goto(f"{service.url}/survey/{token}")
    page.fill("#respondent", "Priya Nair")
    page.fill("#department", "Customer Service")
    for objective, importance, satisfaction in (("revenue", 4, 3), ("cx", 5, 1), ("cost", 2, 4)):
        page.click(f"label[for=importance-{objective}-{importance}]")
        page.click(f"label[for=satisfaction-{objective}-{satisfaction}]")
    page.fill("#comment-cx", "Agents cannot see order status without three logins")
    page.screenshot(path=str(screenshots / "survey-form.png"), full_page=True)
    page.click("#send")
    page.wait_for_selector("#thanks")
    assert "3 objectives rated" in page.inner_text("#thanks")
    page.screenshot(path=str(screenshots / "survey-thanks.png"))
    assert page.errors == []

    page.goto(f"{service.url}/survey/{token}")  # the link is used now
    assert "answered already" in page.inner_text("h1")

    sign_in(page, service)
    charts_drawn(page, (*CHARTS, "survey"))
    survey = page.inner_text("#survey")
    assert "2026-Q4 business survey" in survey
    assert "Agents cannot see order status without three logins" in survey and "Priya Nair" in survey
    cx = page.locator('#survey tr[data-objective="cx"] td').all_inner_texts()
    assert cx[1] == "1" and cx[3] == "5.0" and cx[5] == "1.0"  # answers, importance, satisfaction
    page.locator("#survey").screenshot(path=str(screenshots / "dashboard-survey.png"))

    report = render_report(History(service.engine).report_frame(), OBJECTIVES, RULE_OBJECTIVES,
                           survey=service.surveys.frame())
    assert "Agents cannot see order status without three logins" in report


def test_the_admin_page_and_the_sign_in_page(page, service, screenshots) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{service.url}/dashboard/login")
    page.screenshot(path=str(screenshots / "sign-in.png"))
    sign_in(page, service, ADMIN)
    page.click("nav >> text=Rules & surveys")
    page.wait_for_selector("#rules table")
    assert "shop-projects" in page.inner_text("#rules")
    assert "2026-Q3 business survey" in page.inner_text("#rounds")
    page.screenshot(path=str(screenshots / "admin.png"), full_page=True)
    assert page.errors == []


def test_a_reader_is_told_how_to_get_admin_access(page, service, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, service, READ)
    response = page.goto(f"{service.url}/dashboard/admin")
    assert response.status == 403
    assert "needs admin access" in page.inner_text("h1")
    assert "dashboard.admin_tokens" in page.inner_text("#denied")
    page.screenshot(path=str(screenshots / "no-admin-access.png"))
