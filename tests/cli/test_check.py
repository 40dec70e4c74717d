"""`itsm-align check`: objectives and rule counts on success; every problem, exit 2, on failure."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli
from tests.cli.config.conftest import MINIMAL

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, **env: str):
    return CliRunner().invoke(cli, list(args), env=env or None, terminal_width=200)


def test_check_bundled_config_prints_objectives_and_rule_counts():
    result = run("check", "--config", str(REPO / "config" / "itsm-align.yaml"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Config OK" in out and "ruleset version" in out
    for row in (r"revenue\s+│ Grow online revenue\s+│\s+5 │ VP Digital Commerce",
                r"cost\s+│ Cut run costs\s+│\s+2 │ CFO"):
        assert re.search(row, out), out
    total = int(re.search(r"Rules: (\d+) total", out).group(1))
    assert total >= 30
    by_type = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", out.split("total")[1]))
    assert {"field", "text", "regex", "inherit"} <= set(by_type)


def test_check_uses_the_environment_variable(write_config):
    path = write_config(MINIMAL)
    result = run("check", ITSM_ALIGN_CONFIG=str(path))
    assert result.exit_code == 0, result.output
    assert str(path) in result.stdout and "Rules: 2 total (field 1, text 1)" in result.stdout


def test_check_without_config_says_how_to_pass_one():
    result = run("check")
    assert result.exit_code == 2
    assert "--config" in result.stderr and "ITSM_ALIGN_CONFIG" in result.stderr


BROKEN = {
    "bad-yaml": (MINIMAL.replace("when: {project: [SHOP, PAY]}", "when: {project: [SHOP, PAY}"),
                 8, None, ["invalid YAML"]),
    "unknown-key": (MINIMAL.replace("confidence: 0.7", "confidance: 0.7"),
                    11, "gdpr-words", ["unknown key 'confidance'", "Allowed keys here:", "confidence"]),
    "unknown-objective": (MINIMAL.replace("objective: compliance", "objective: legal"),
                          10, "gdpr-words", ["'legal' is not defined", "revenue, compliance"]),
    "bad-regex": (MINIMAL + "  - id: cve-ids\n    objective: compliance\n    confidence: 0.5\n"
                  "    when: {regex: 'CVE-(\\d+'}\n", 16, "cve-ids", ["RE2"]),
    "missing-env": (MINIMAL + "service:\n  public_url: ${ITSM_TEST_PUBLIC_URL}\n",
                    14, None, ["ITSM_TEST_PUBLIC_URL is not set", "service.public_url"]),
    "unknown-when-key": (MINIMAL.replace("when: {project: [SHOP, PAY]}", "when: {projct: [SHOP]}"),
                         8, "shop-projects", ["projct"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_names_file_line_and_rule_and_exits_2(write_config, case, monkeypatch):
    monkeypatch.delenv("ITSM_TEST_PUBLIC_URL", raising=False)
    text, line, rule_id, fragments = BROKEN[case]
    path = write_config(text)
    result = run("check", "--config", str(path))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr
    assert f"{path}:{line}: " in err, err
    located = next(x for x in err.splitlines() if f"{path}:{line}: " in x)
    if rule_id:
        assert f"(id '{rule_id}')" in located, located
    for fragment in fragments:
        assert fragment in located, located
