"""load_config: valid files load; every broken file names file, line, rule and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from itsm_align.cli.config import ENV_VAR, AppConfig, ConfigError, load_config

from .conftest import CONFIG_DIR, MINIMAL


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems, str(info.value)
    return [str(p) for p in info.value.problems]


def test_minimal_file_loads_and_builds_its_engine_once(write_config):
    path = write_config(MINIMAL)
    config = load_config(path)
    assert isinstance(config, AppConfig)
    assert config.path == path
    assert [o.id for o in config.objectives] == ["revenue", "compliance"]
    assert [r.id for r in config.rules] == ["shop-projects", "gdpr-words"]
    assert config.jira is None and config.servicenow is None
    assert config.service.require_signature is True
    engine = config.engine()
    assert engine is config.engine()  # cached
    assert engine.rule_count == 2


def test_path_from_environment(write_config, monkeypatch):
    path = write_config(MINIMAL)
    monkeypatch.setenv(ENV_VAR, str(path))
    assert load_config().path == path


def test_no_path_says_how_to_pass_one():
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "--config" in str(info.value) and ENV_VAR in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value) and "does not exist" in str(info.value)


def test_bundled_example_config_loads():
    config = load_config(CONFIG_DIR / "itsm-align.yaml")
    assert 6 <= len(config.objectives) <= 8
    assert len(config.rules) >= 30
    assert all(o.owner and o.description and o.kpis for o in config.objectives)
    engine = config.engine()
    assert engine.rule_count == len(config.rules)
    # no platform sections: check and score need no secrets
    assert config.jira is None and config.servicenow is None


SERVICE_ENV = {
    "JIRA_URL": "https://acme.atlassian.net/", "JIRA_EMAIL": "bot@acme.example",
    "JIRA_API_TOKEN": "jira-token-123", "JIRA_WEBHOOK_SECRET": "jira-hook-secret",
    "SN_INSTANCE": "https://acme.service-now.com", "SN_USER": "itsm.align",
    "SN_PASSWORD": "sn-pass-456", "SN_WEBHOOK_SECRET": "sn-hook-secret",
    "ITSM_ALIGN_PUBLIC_URL": "https://itsm-align.acme.example",
}


def test_service_example_loads_with_its_environment(monkeypatch):
    for name, value in SERVICE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ITSM_ALIGN_DATABASE_URL", raising=False)
    config = load_config(CONFIG_DIR / "service.example.yaml")
    assert config.jira is not None and config.servicenow is not None
    assert config.jira.url == "https://acme.atlassian.net"
    assert config.jira.api_token.get_secret_value() == "jira-token-123"
    assert "jira-token-123" not in repr(config.jira)  # secrets stay out of reprs and logs
    assert config.servicenow.password.get_secret_value() == "sn-pass-456"
    assert config.service.public_url == "https://itsm-align.acme.example"
    assert config.service.database_url == "sqlite:///var/itsm-align.sqlite3"  # ${VAR:-default}
    assert config.engine().rule_count == 5


def test_service_example_without_environment_names_every_variable():
    problems = problems_of(CONFIG_DIR / "service.example.yaml")
    text = "\n".join(problems)
    for name in ("JIRA_URL", "JIRA_API_TOKEN", "SN_PASSWORD", "ITSM_ALIGN_PUBLIC_URL"):
        assert name in text
    assert "ITSM_ALIGN_DATABASE_URL" not in text  # has a default
    lines = (CONFIG_DIR / "service.example.yaml").read_text().splitlines()
    token_line = next(i for i, line in enumerate(lines, 1) if "${JIRA_API_TOKEN}" in line)
    assert any(p.startswith(f"{CONFIG_DIR / 'service.example.yaml'}:{token_line}: jira.api_token:")
               for p in problems), problems


def test_env_default_and_literal_escape(write_config, monkeypatch):
    monkeypatch.setenv("SN_HOST", "https://acme.service-now.com")
    monkeypatch.delenv("SN_USER_UNSET", raising=False)
    path = write_config(MINIMAL + """\
servicenow:
  instance: ${SN_HOST}
  user: ${SN_USER_UNSET:-itsm.align}
  query: "short_descriptionLIKE$${x}"
""")
    config = load_config(path)
    assert config.servicenow.instance == "https://acme.service-now.com"
    assert config.servicenow.user == "itsm.align"
    assert config.servicenow.query == "short_descriptionLIKE${x}"


def test_missing_env_var_names_file_line_key_and_variable(write_config, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    path = write_config(MINIMAL + """\
jira:
  url: https://acme.atlassian.net
  email: bot@acme.example
  api_token: ${NO_SUCH_TOKEN}
""")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:16: jira.api_token: ")
    assert "NO_SUCH_TOKEN is not set" in problem and "export NO_SUCH_TOKEN=" in problem


def test_bad_yaml_syntax_names_the_line(write_config):
    path = write_config("""\
objectives:
  - {id: revenue, name: Grow online revenue, weight: 5}
rules:
  - id: shop-projects
    objective: revenue
    when: {project: [SHOP, PAY}
""")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:6: invalid YAML")


def test_unknown_key_in_rule_names_line_rule_and_allowed_keys(write_config):
    path = write_config(MINIMAL.replace("    confidence: 0.7\n", "    confidnce: 0.7\n"))
    problems = problems_of(path)
    unknown = [p for p in problems if "confidnce" in p]
    assert len(unknown) == 1
    assert unknown[0].startswith(f"{path}:11: rules[1] (id 'gdpr-words') confidnce: unknown key")
    assert "confidence" in unknown[0].split("Allowed keys here:")[1]


def test_unknown_top_level_key_lists_sections(write_config):
    path = write_config(MINIMAL + "jria:\n  url: https://acme.atlassian.net\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:13: jria: unknown key 'jria'")
    assert "objectives, rules, scoring, jira, servicenow, service" in problem


def test_rule_with_unknown_objective_lists_known_ids(write_config):
    path = write_config(MINIMAL.replace("objective: compliance", "objective: complience"))
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:10: rules[1] (id 'gdpr-words') objective: ")
    assert "complience" in problems[0] and "revenue, compliance" in problems[0]


def test_bad_regex_names_line_and_rule(write_config):
    path = write_config(MINIMAL + """\
  - id: cve-lookbehind
    objective: compliance
    confidence: 0.5
    when:
      any:
        - {project: GRC}
        - {regex: '(?<=CVE-)\\d+'}
""")
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:") and "cve-lookbehind" in problems[0]
    line = int(problems[0].split(":")[1])
    assert line in (18, 19), problems[0]  # the regex entry (or its key)
    assert "RE2" in problems[0]


def test_duplicate_key_is_an_error_not_silently_dropped(write_config):
    path = write_config(MINIMAL.replace("    confidence: 0.9\n",
                                        "    confidence: 0.9\n    confidence: 0.2\n"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:8: rules[0] (id 'shop-projects') confidence: ")
    assert "appears twice (first on line 7)" in problem


def test_missing_required_rule_keys(write_config):
    path = write_config(MINIMAL + "  - id: half-rule\n    objective: revenue\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:13: rules[2] (id 'half-rule')")
    assert "confidence" in problem and "when" in problem


def test_every_problem_is_reported_at_once(write_config, monkeypatch):
    monkeypatch.delenv("MISSING_ONE", raising=False)
    path = write_config(MINIMAL.replace("objective: compliance", "objective: nope")
                        + "service:\n  public_url: ${MISSING_ONE}\n  max_body_bytes: lots\n")
    problems = problems_of(path)
    assert len(problems) == 3, problems
    assert [int(p.split(":")[1]) for p in problems] == [10, 14, 15]


@pytest.mark.parametrize("text,expected", [
    ("", "the file is empty"),
    ("- just\n- a list\n", "the file is a list"),
])
def test_file_must_be_a_mapping(write_config, text, expected):
    [problem] = problems_of(write_config(text))
    assert expected in problem and "objectives" in problem


def test_objective_weight_out_of_range(write_config):
    path = write_config(MINIMAL.replace("weight: 4", "weight: 9"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3: objectives[1] (id 'compliance') weight: ")
    assert "9" in problem


def test_condition_problems_are_reported_with_other_validation_errors(write_config):
    path = write_config(MINIMAL.replace("when: {project: [SHOP, PAY]}", "when: {projct: [SHOP]}")
                        .replace("confidence: 0.7", "confidence: 7"))
    problems = problems_of(path)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{path}:8: rules[0] (id 'shop-projects') when.projct: ")
    assert "did you mean 'project'" in problems[0]
    assert problems[1].startswith(f"{path}:11: rules[1] (id 'gdpr-words') confidence: ")


def test_python_tags_are_refused(write_config):
    path = write_config(MINIMAL + "service:\n  public_url: !!python/name:os.system\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:14: service.public_url: cannot read this value")


def test_yaml_anchors_and_merge_keys_work(write_config):
    path = write_config("""\
objectives:
  - {id: revenue, name: Grow online revenue, weight: 5}
rules:
  - &shop
    id: shop
    objective: revenue
    confidence: 0.9
    when: {project: SHOP}
  - <<: *shop
    id: pay
    when: {project: PAY}
""")
    config = load_config(path)
    assert [(r.id, r.confidence, r.when) for r in config.rules] == [
        ("shop", 0.9, {"project": "SHOP"}), ("pay", 0.9, {"project": "PAY"})]


def test_config_built_in_code_has_an_engine():
    config = AppConfig.model_validate({"objectives": [{"id": "cost", "name": "Cut", "weight": 2}],
                                       "rules": [{"id": "r", "objective": "cost", "confidence": 0.5,
                                                  "when": {"project": "OPS"}}]})
    assert config.path is None
    assert config.engine().rule_count == 1


def test_rule_problems_from_a_config_built_in_code_are_config_errors():
    config = AppConfig.model_validate({"objectives": [{"id": "cost", "name": "Cut", "weight": 2}],
                                       "rules": [{"id": "r", "objective": "cost", "confidence": 0.5,
                                                  "when": {"regex": "a(b"}}]})
    with pytest.raises(ConfigError) as info:
        config.engine()
    assert "rules[0] (id 'r') when.regex" in str(info.value)
