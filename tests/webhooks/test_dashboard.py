"""The dashboard blueprint through Flask's test client: access model, numbers, filters,
drill-down, native filter links, the history cache."""
from __future__ import annotations

import re
import threading
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from itsm_align.cli.config import parse_config
from itsm_align.scoring.types import Assessment, Nature, WorkItem
from itsm_align.webhooks.app import StartupError, create_app
from itsm_align.webhooks.dashboard import JiraLinks, PlatformLinks, ServiceNowLinks
from itsm_align.webhooks.dashboard.data import HistoryCache
from itsm_align.webhooks.settings import DashboardSettings, ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.history import History

from .dashboard_seed import JIRA, OBJECTIVES, RULE_OBJECTIVES, SN, current, seed_history

READ = "read-token-for-the-business-side"
ADMIN = "admin-token-for-the-it-admins-0"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One seeded database for the module (read-only tests)."""
    path = tmp_path_factory.mktemp("dashboard") / "service.sqlite3"
    engine = create_db_engine(f"sqlite:///{path}")
    rows = seed_history(History(engine))
    yield engine, rows
    engine.dispose()


def make_app(engine, **dashboard):  # type: ignore[no-untyped-def]
    settings = {"read_tokens": [READ], "admin_tokens": [ADMIN], "refresh_seconds": 0, **dashboard}
    return create_app(ServiceSettings(database_url=str(engine.url)), secrets={"jira": "s" * 32},
                      db_engine=engine, objectives=OBJECTIVES, dashboard=DashboardSettings(**settings),
                      links=PlatformLinks(JiraLinks(JIRA), ServiceNowLinks(SN)),
                      rule_objectives=RULE_OBJECTIVES, warm=False)


@pytest.fixture(scope="module")
def client(seeded):  # type: ignore[no-untyped-def]
    return make_app(seeded[0]).test_client()


def get(client, path: str, token: str | None = READ, **headers: str):  # type: ignore[no-untyped-def]
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


def text(response) -> str:  # type: ignore[no-untyped-def]
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def tiles(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'<div class="value">([^<]*)</div>', response.get_data(as_text=True))


# ---------------------------------------------------------------- access
def test_nobody_gets_in_without_a_credential(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/dashboard/", "/dashboard/items", "/dashboard/charts.json", "/dashboard/admin",
                 "/dashboard/assets/plotly.min.js", "/dashboard/items.csv"):
        response = get(client, path, token=None)
        assert response.status_code == 401, path
    page = text(get(client, "/dashboard/", token=None))
    assert "No access token was given" in page and "dashboard.read_tokens" in page and "Bearer" in page


def test_a_wrong_token_is_refused_with_the_reason(client) -> None:  # type: ignore[no-untyped-def]
    response = get(client, "/dashboard/", token="not-a-token-we-know-of")
    assert response.status_code == 401 and "not one of the dashboard's tokens" in text(response)


def test_readers_see_the_dashboard_but_not_the_admin_page(client) -> None:  # type: ignore[no-untyped-def]
    assert get(client, "/dashboard/").status_code == 200
    denied = get(client, "/dashboard/admin")
    assert denied.status_code == 403
    assert "needs admin access" in text(denied) and "dashboard.admin_tokens" in text(denied)
    admin = get(client, "/dashboard/admin", token=ADMIN)
    assert admin.status_code == 200 and "Rule quality" in text(admin)


def test_the_login_form_keeps_the_token_in_an_http_only_cookie(seeded) -> None:  # type: ignore[no-untyped-def]
    client = make_app(seeded[0]).test_client()
    wrong = client.post("/dashboard/login", data={"token": "guess-guess-guess"})
    assert wrong.status_code == 401 and "not one of the dashboard's tokens" in text(wrong)
    signed = client.post("/dashboard/login", data={"token": READ, "next": "/dashboard/items?project=SHOP"})
    assert signed.status_code == 303 and signed.headers["Location"] == "/dashboard/items?project=SHOP"
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/dashboard/admin").status_code == 403
    client.post("/dashboard/logout")
    assert client.get("/dashboard/").status_code == 401


def test_a_link_with_a_token_signs_in_and_drops_the_token_from_the_url(seeded) -> None:  # type: ignore[no-untyped-def]
    client = make_app(seeded[0]).test_client()
    response = client.get(f"/dashboard/login?token={ADMIN}&next=https://evil.example/")
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/admin").status_code == 200


def test_a_trusted_proxy_header_gives_roles_by_user(seeded) -> None:  # type: ignore[no-untyped-def]
    client = make_app(seeded[0], read_tokens=[], admin_tokens=[], user_header="X-Forwarded-User",
                      admin_users=["Alice@Northwind.example"], read_users=["bob@northwind.example",
                                                                          "alice@northwind.example"]).test_client()
    assert get(client, "/dashboard/", token=None).status_code == 401
    assert get(client, "/dashboard/admin", token=None, **{"X-Forwarded-User": "alice@northwind.example"}).status_code == 200
    bob = {"X-Forwarded-User": "bob@northwind.example"}
    assert get(client, "/dashboard/", token=None, **bob).status_code == 200
    assert get(client, "/dashboard/admin", token=None, **bob).status_code == 403
    eve = get(client, "/dashboard/", token=None, **{"X-Forwarded-User": "eve@northwind.example"})
    assert eve.status_code == 403 and "not on the dashboard's reader list" in text(eve)
    assert "dashboard.read_users" in text(eve)


def test_pages_carry_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = get(client, "/dashboard/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------- settings and wiring
def test_dashboard_settings_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="nobody could open it"):
        DashboardSettings()
    with pytest.raises(ValidationError, match="at least 16 characters"):
        DashboardSettings(read_tokens=["short"])
    with pytest.raises(ValidationError, match="set user_header too"):
        DashboardSettings(read_tokens=[READ], admin_users=["alice"])


def test_tokens_come_from_the_environment_in_the_config_file() -> None:
    config = parse_config("""\
objectives: [{id: cost, name: Cut run costs, weight: 2}]
dashboard:
  read_tokens: ["${DASH_READ}"]
  admin_tokens: ["${DASH_ADMIN}"]
  user_header: X-Forwarded-User
  admin_users: [alice]
""", env={"DASH_READ": READ, "DASH_ADMIN": ADMIN}, build=False)
    assert config.dashboard is not None
    assert [t.get_secret_value() for t in config.dashboard.admin_tokens] == [ADMIN]
    assert ADMIN not in repr(config.dashboard)


def test_nothing_is_served_unless_configured(seeded) -> None:  # type: ignore[no-untyped-def]
    plain = create_app(ServiceSettings(database_url=str(seeded[0].url)), secrets={"jira": "s" * 32},
                       db_engine=seeded[0]).test_client()
    assert plain.get("/dashboard/").status_code == 404 and plain.get("/survey/" + "a" * 32).status_code == 404
    with pytest.raises(StartupError, match="needs the objectives"):
        create_app(ServiceSettings(), secrets={"jira": "s" * 32}, db_engine=seeded[0],
                   dashboard=DashboardSettings(read_tokens=[READ]))


# ---------------------------------------------------------------- numbers, filters, drill-down
def test_the_tiles_count_the_current_estate(client, seeded) -> None:  # type: ignore[no-untyped-def]
    estate = current(seeded[1])
    values = tiles(get(client, "/dashboard/"))
    assert values[0] == f"{len(estate):,}"
    effort = sum(r.effort if r.effort else 1.0 for r in estate.values())
    assert values[1] == f"{effort:,.0f}"


def test_a_filter_changes_the_numbers(client, seeded) -> None:  # type: ignore[no-untyped-def]
    estate = current(seeded[1])
    shop = [r for r in estate.values() if r.project == "SHOP"]
    page = get(client, "/dashboard/?project=SHOP")
    assert tiles(page)[0] == f"{len(shop):,}" != tiles(get(client, "/dashboard/"))[0]
    assert "Project: SHOP" in text(page)


def test_the_period_filter_counts_items_assessed_in_it(client, seeded) -> None:  # type: ignore[no-untyped-def]
    rows = [r for r in seeded[1] if "2026-06-01" <= r.at.date().isoformat() <= "2026-08-31"]
    expected = current(rows)
    page = get(client, "/dashboard/?since=2026-06-01&until=2026-08-31")
    assert tiles(page)[0] == f"{len(expected):,}"


def test_drill_down_lists_exactly_the_items_behind_a_number(client, seeded) -> None:  # type: ignore[no-untyped-def]
    estate = current(seeded[1])
    expected = {r.key for r in estate.values() if r.objective == "revenue" and r.project == "SHOP"}
    page = get(client, "/dashboard/items?objective=revenue&project=SHOP")
    listed = set(re.findall(r'<tr data-key="([^"]+)"', page.get_data(as_text=True)))
    assert listed == expected and len(expected) > 3
    assert f"{len(expected)} items" in text(page)
    assert f'href="{JIRA}/browse/{sorted(expected)[0]}"' in page.get_data(as_text=True)


def test_drill_down_links_to_the_native_filters(client, seeded) -> None:  # type: ignore[no-untyped-def]
    estate = current(seeded[1])
    page = get(client, "/dashboard/items?objective=reliability").get_data(as_text=True)
    links = dict(re.findall(r'<a class="btn secondary" href="([^"]+)"[^>]*data-platform="(\w+)"', page))
    by_platform = {platform: unescape(url) for url, platform in links.items()}
    jql = parse_qs(urlsplit(by_platform["jira"]).query)["jql"][0]
    jira_keys = sorted((r.key for r in estate.values() if r.objective == "reliability" and r.platform == "jira"), key=lambda k: (k.split("-")[0], int(k.split("-")[1])))
    assert by_platform["jira"].startswith(f"{JIRA}/issues/?jql=")
    assert jql == f"key in ({', '.join(jira_keys)}) ORDER BY key"
    query = parse_qs(urlsplit(by_platform["servicenow"]).query)["sysparm_query"][0]
    sn_keys = sorted(r.key for r in estate.values() if r.objective == "reliability" and r.platform == "servicenow")
    assert by_platform["servicenow"].startswith(f"{SN}/task_list.do?")
    assert sorted(query.removesuffix("^ORDERBYnumber").removeprefix("numberIN").split(",")) == sn_keys


def test_drill_down_by_nature_and_score(client, seeded) -> None:  # type: ignore[no-untyped-def]
    estate = current(seeded[1])
    expected = {r.key for r in estate.values() if r.nature == "reactive" and 40 <= r.score <= 79}
    page = get(client, "/dashboard/items?nature=reactive&score=40-79").get_data(as_text=True)
    assert set(re.findall(r'<tr data-key="([^"]+)"', page)) == expected


def test_the_csv_export_has_the_same_items(client, seeded) -> None:  # type: ignore[no-untyped-def]
    estate = current(seeded[1])
    response = get(client, "/dashboard/items.csv?objective=unaligned")
    lines = response.get_data(as_text=True).strip().splitlines()
    assert response.content_type.startswith("text/csv") and lines[0].startswith("platform,item_key,")
    assert len(lines) - 1 == sum(1 for r in estate.values() if r.objective == "unaligned")


def test_charts_come_with_a_drill_down_url_per_point(client) -> None:  # type: ignore[no-untyped-def]
    charts = get(client, "/dashboard/charts.json?project=OPS").get_json()
    assert {"effort", "unaligned", "scores", "nature", "trend"} <= set(charts)
    effort = charts["effort"]
    assert effort["figure"]["data"][0]["type"] == "bar"
    assert effort["drill"][0] == "items?objective=revenue&project=OPS"
    assert charts["scores"]["drill"][4] == "items?project=OPS&score=40-49"


def test_a_bad_filter_gets_a_page_that_says_how_to_fix_it(client) -> None:  # type: ignore[no-untyped-def]
    response = get(client, "/dashboard/?since=yesterday")
    assert response.status_code == 400 and "write it as YYYY-MM-DD" in text(response)
    assert get(client, "/dashboard/items?score=high").status_code == 400


def test_plotly_js_is_served_from_the_package(client) -> None:  # type: ignore[no-untyped-def]
    response = get(client, "/dashboard/assets/plotly.min.js")
    assert response.status_code == 200 and b"plotly" in response.get_data()[:2000].lower()
    page = get(client, "/dashboard/").get_data(as_text=True)
    assert "cdn" not in page.lower() and 'src="/dashboard/assets/plotly.min.js"' in page


# ---------------------------------------------------------------- the history cache
def test_new_history_rows_show_after_the_refresh_window(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    history = History(engine)
    now = [0.0]
    cache = HistoryCache(engine, refresh_seconds=30, clock=lambda: now[0])

    def add(key: str) -> None:
        history.append(Assessment(key, "jira", "cost", 70, Nature.PROACTIVE, "r"),
                       WorkItem(platform="jira", key=key, project="OPS"))

    add("OPS-1")
    first = cache.snapshot()
    assert len(first.history) == 1
    add("OPS-2")
    now[0] = 10.0
    assert cache.snapshot() is first  # within the window: the snapshot in memory
    now[0] = 31.0
    second = cache.snapshot()
    assert sorted(second.history["item_key"]) == ["OPS-1", "OPS-2"] and second.version > first.version
    now[0] = 70.0
    assert cache.snapshot() is second  # nothing new: no re-read
    engine.dispose()


def test_the_history_cache_reads_sqlite_and_postgresql_alike(db_url: str) -> None:
    engine = create_db_engine(db_url)
    rows = seed_history(History(engine))
    cache = HistoryCache(engine, refresh_seconds=0)
    first = cache.snapshot()
    estate = current(rows)
    assert len(first.estate(None)) == len(estate)
    assert set(first.estate(None)["item_key"]) == {key for _, key in estate}
    History(engine).append(Assessment("OPS-9999", "jira", "cost", 70, Nature.PROACTIVE, "r"),
                           WorkItem(platform="jira", key="OPS-9999", project="OPS"))
    second = cache.snapshot()
    assert len(second.estate(None)) == len(estate) + 1 and len(second.history) == len(first.history) + 1
    engine.dispose()


def test_survey_results_show_the_latest_round_or_the_one_chosen(tmp_path: Path) -> None:
    from itsm_align.webhooks.storage.surveys import Answer, Surveys

    engine = create_db_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    seed_history(History(engine))
    surveys = Surveys(engine)
    for title, comment in (("2026-Q1", "Search is broken on mobile"), ("2026-Q2", "Refunds take two weeks")):
        made, _ = surveys.create_round(title)
        surveys.import_answers(made.id, [Answer("Ann", "Sales", "revenue", 5, 2, comment),
                                         Answer("Ann", "Sales", "cost", 2, 4)])
    client = make_app(engine).test_client()
    latest = text(get(client, "/dashboard/"))
    assert "What the business said: 2026-Q2" in latest and "Refunds take two weeks" in latest
    assert "Search is broken on mobile" not in latest and "Surveyed importance" in latest
    chosen = text(get(client, "/dashboard/?round=2026-Q1"))
    assert "What the business said: 2026-Q1" in chosen and "Search is broken on mobile" in chosen
    charts = get(client, "/dashboard/charts.json?round=2026-Q1").get_json()
    assert "2026-Q1" in charts["survey"]["figure"]["layout"]["title"]["text"]
    engine.dispose()


def test_start_up_preparation_and_the_first_request_agree(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, rows = seeded
    app = create_app(ServiceSettings(database_url=str(engine.url)), secrets={"jira": "s" * 32},
                     db_engine=engine, objectives=OBJECTIVES,
                     dashboard=DashboardSettings(read_tokens=[READ], refresh_seconds=3600))  # warms in a thread
    assert tiles(get(app.test_client(), "/dashboard/"))[0] == f"{len(current(rows)):,}"
    for thread in threading.enumerate():  # let it finish before the database goes away
        if thread.name == "itsm-align-dashboard-warm":
            thread.join()
