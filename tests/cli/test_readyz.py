"""/readyz: ready when the store answers, the rules load and the platform
accepts our credentials (checked in the background, never on the probe)."""
from __future__ import annotations

from pathlib import Path

from itsm_align.cli.compose import build_app
from itsm_align.cli.config import parse_config

CONFIG = """
objectives: [{{id: revenue, name: Grow online revenue, weight: 5}}]
rules: [{{id: shop, objective: revenue, confidence: 0.9, when: {{project: SHOP}}}}]
jira: {{url: "{url}", email: "{email}", api_token: "{token}", webhook_secret: s}}
service: {{database_url: "sqlite:///{db}"}}
"""


def ready(jira_sandbox, tmp_path: Path, token: str):  # type: ignore[no-untyped-def]
    email, _ = jira_sandbox.credentials
    config = parse_config(CONFIG.format(url=jira_sandbox.url, email=email, token=token, db=tmp_path / "r.sqlite3"))
    app = build_app(config, warm=True)
    (watch,) = app.extensions["itsm_align.access_watches"]  # stopped below: no thread outlives the test
    assert watch.checked.wait(timeout=30)
    try:
        return app.test_client().get("/readyz")
    finally:
        watch.stop()


def test_ready_with_good_credentials(jira_sandbox, tmp_path: Path) -> None:
    _, token = jira_sandbox.credentials
    response = ready(jira_sandbox, tmp_path, token)
    assert response.status_code == 200, response.json
    checks = response.json["checks"]
    assert checks["store"]["ok"] and checks["rules"]["ok"] and checks["jira"]["ok"]
    assert "1 rule(s)" in checks["rules"]["detail"]


def test_not_ready_when_jira_refuses_our_token_and_it_says_what_to_fix(jira_sandbox, tmp_path: Path) -> None:
    response = ready(jira_sandbox, tmp_path, "wrong-token")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    jira = response.json["checks"]["jira"]
    assert not jira["ok"] and "jira.api_token" in jira["detail"]
    assert "wrong-token" not in response.get_data(as_text=True)


def test_healthz_stays_the_cheap_liveness_check(tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(url="http://127.0.0.1:9", email="a@example.com", token="t",
                                        db=tmp_path / "h.sqlite3"))
    app = build_app(config, warm=False)
    assert app.test_client().get("/healthz").status_code == 200
    readyz = app.test_client().get("/readyz")
    assert readyz.status_code == 200 and set(readyz.json["checks"]) == {"store", "rules"}
