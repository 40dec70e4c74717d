"""`itsm-align setup servicenow` and `backfill servicenow` end to end against the sandbox."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli


CONFIG = """
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: cost, name: Cut run costs, weight: 2}}
rules:
  - id: portal
    objective: revenue
    confidence: 0.9
    when: {{text: {{any: [portal, checkout]}}}}
servicenow:
  instance: {url}
  user: {user}
  password: ${{SN_TEST_PASSWORD}}
  ca_bundle: {ca}
service:
  public_url: https://align.example.com
  database_url: sqlite:///{db}
"""


@pytest.fixture
def config_file(servicenow_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("SN_TEST_PASSWORD", servicenow_sandbox.integration_password)
    path = tmp_path / "itsm-align.yaml"
    path.write_text(CONFIG.format(url=servicenow_sandbox.url, user=servicenow_sandbox.integration_user,
                                  ca=servicenow_sandbox.ca_pem_path, db=tmp_path / "itsm-align.sqlite3"))
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_setup_dry_run_then_real_then_idempotent(servicenow_sandbox, config_file):
    result = invoke("setup", "servicenow", "--config", str(config_file), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "u_business_objective" in result.output
    assert not servicenow_sandbox.query("sys_dictionary", "name=task^elementSTARTSWITHu_")
    result = invoke("setup", "servicenow", "--config", str(config_file))
    assert result.exit_code == 0 and "9 change(s) made" in result.output
    result = invoke("setup", "servicenow", "--config", str(config_file))
    assert "0 change(s) made" in result.output
    assert servicenow_sandbox.integration_password not in result.output


def test_setup_writes_update_set_without_contacting_the_instance(servicenow_sandbox, config_file, tmp_path):
    out = tmp_path / "set.xml"
    mark = len(servicenow_sandbox.http_requests)
    result = invoke("setup", "servicenow", "--config", str(config_file), "--update-set", str(out))
    assert result.exit_code == 0, result.output
    assert len(servicenow_sandbox.http_requests) == mark
    root = ET.parse(out).getroot()
    assert root.tag == "unload" and len(root.findall("sys_update_xml")) == 11


def test_setup_reports_platform_errors(servicenow_sandbox, config_file):
    servicenow_sandbox.inject(status=403, count=10, message="User Not Authorized")
    result = CliRunner().invoke(cli, ["setup", "servicenow", "--config", str(config_file)])
    assert result.exit_code == 3
    assert "User Not Authorized" in result.output


def test_backfill_dry_run_then_real_then_nothing_left(servicenow_sandbox, config_file, tmp_path):
    invoke("setup", "servicenow", "--config", str(config_file))
    servicenow_sandbox.seed("incident", 60)
    proposed = tmp_path / "proposed.csv"
    result = invoke("backfill", "servicenow", "--config", str(config_file), "--table", "incident",
                    "--dry-run", "--output", str(proposed))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(proposed.read_text())))
    assert len({r["key"] for r in rows}) == 60
    assert all(not r.get("u_alignment_score") for r in servicenow_sandbox.query("incident"))

    result = invoke("backfill", "servicenow", "--config", str(config_file), "--table", "incident",
                    "--query", "active=true", "--page-size", "25")
    assert result.exit_code == 0, result.output
    assert "60 records assessed, 60 changed" in result.output
    assert "60 assessments added to the history" in result.output
    records = servicenow_sandbox.query("incident")
    assert all(r["u_business_objective"] in ("revenue", "cost", "unaligned") for r in records)
    assert any(r["u_business_objective"] == "revenue" for r in records)  # "Customer portal login fails"
    result = invoke("backfill", "servicenow", "--config", str(config_file), "--table", "incident",
                    "--query", "active=true")
    assert "0 changed, 60 unchanged" in result.output


def test_backfill_remembers_what_it_wrote_when_sys_audit_is_unreadable(servicenow_sandbox, config_file):
    """Without audit access, "who set this objective" falls back to the values
    we wrote, which the back-fill keeps in the service database: a later run
    (or the worker) updates them instead of taking them for a person's choice."""
    invoke("setup", "servicenow", "--config", str(config_file))
    servicenow_sandbox.seed("incident", 12)
    servicenow_sandbox.inject(path_regex=r"/sys_audit", status=403, count=10_000,
                              message="ACL restricts the record retrieval")
    first = invoke("backfill", "servicenow", "--config", str(config_file), "--table", "incident")
    assert first.exit_code == 0, first.output
    assert any(r["u_business_objective"] == "revenue" for r in servicenow_sandbox.query("incident"))

    # the admin moves portal work to cost; what we wrote is ours to change
    config_file.write_text(config_file.read_text().replace("objective: revenue", "objective: cost"))
    second = invoke("backfill", "servicenow", "--config", str(config_file), "--table", "incident", "--restart")
    assert second.exit_code == 0, second.output
    records = servicenow_sandbox.query("incident")
    assert not any(r["u_business_objective"] == "revenue" for r in records)
    assert any(r["u_business_objective"] == "cost" for r in records)
    assert any("/sys_audit" in r.path for r in servicenow_sandbox.http_requests)  # it did ask, and was refused
