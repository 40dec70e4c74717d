"""`itsm-align schema`: a valid JSON Schema that accepts the shipped config files."""
from __future__ import annotations

import json

import jsonschema
import yaml
from click.testing import CliRunner

from itsm_align.cli.main import cli
from itsm_align.cli.config import config_schema

from .conftest import CONFIG_DIR


def test_schema_command_writes_a_valid_schema_that_accepts_the_examples(tmp_path):
    out = tmp_path / "sub" / "schema.json"
    result = CliRunner().invoke(cli, ["schema", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.stderr
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("itsm-align.yaml", "service.example.yaml"):
        data = yaml.safe_load((CONFIG_DIR / name).read_text())
        assert list(validator.iter_errors(data)) == [], name


def test_schema_rejects_what_the_loader_rejects():
    validator = jsonschema.Draft202012Validator(config_schema())
    good = {"objectives": [{"id": "revenue", "name": "Grow", "weight": 5}]}
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "jria": {}})  # unknown section
    assert not validator.is_valid({"objectives": [{"id": "revenue", "name": "Grow", "weight": 9}]})
    assert not validator.is_valid({**good, "rules": [{"id": "r", "objective": "revenue",
                                                        "confidence": 0.5, "when": {}, "colour": 1}]})


def test_schema_to_stdout_matches_the_committed_file():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    committed = (CONFIG_DIR / "schema.json").read_text()
    assert json.loads(result.stdout) == json.loads(committed), (
        "config/schema.json is stale: run `itsm-align schema --output config/schema.json`")


def test_the_configuration_reference_is_generated_from_the_schema_and_current():
    """docs/configuration.md lists every key the loader accepts; it is written
    by `itsm-align schema --format markdown`, never by hand."""
    result = CliRunner().invoke(cli, ["schema", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    committed = (CONFIG_DIR.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert result.stdout == committed, (
        "docs/configuration.md is stale: run `itsm-align schema --format markdown --output docs/configuration.md`")


def test_every_setting_is_in_the_reference_with_a_meaning():
    schema = config_schema()
    reference = (CONFIG_DIR.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing, undocumented = [], []
    for name, model in schema["$defs"].items():
        for key, prop in model.get("properties", {}).items():
            if f"| `{key}` |" not in reference:
                missing.append(f"{name}.{key}")
            if not prop.get("description"):
                undocumented.append(f"{name}.{key}")
    for section in schema["properties"]:
        assert f"## `{section}`" in reference
    assert missing == [] and undocumented == [], (
        f"not in docs/configuration.md: {missing}; no description (Field(description=...)): {undocumented}")


def test_the_schema_line_still_works_where_the_readme_copies_the_example(tmp_path):
    """README: copy service.example.yaml, then `itsm-align schema --output` beside it."""
    import re

    target = tmp_path / "etc" / "itsm-align"
    target.mkdir(parents=True)
    copied = target / "itsm-align.yaml"
    copied.write_text((CONFIG_DIR / "service.example.yaml").read_text(), encoding="utf-8")
    result = CliRunner().invoke(cli, ["schema", "--output", str(target / "schema.json")])
    assert result.exit_code == 0
    first = copied.read_text().splitlines()[0]
    reference = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert reference, first
    schema_file = (copied.parent / reference.group(1)).resolve()
    assert schema_file.is_file()
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))
    assert list(validator.iter_errors(yaml.safe_load(copied.read_text()))) == []
