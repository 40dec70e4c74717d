"""An unknown objective does not hide the problems inside the same rule's `when:`."""
from __future__ import annotations

import pytest

from itsm_align.cli.config import ConfigError, parse_config

TEXT = """\
objectives:
  - {id: compliance, name: Stay compliant, weight: 4}
rules:
  - id: gdpr-words
    objective: complience
    confidence: 0.7
    when: {txt: {any: [gdpr]}}
  - id: cve
    objective: compliance
    confidence: 0.8
    when: {regex: 'CVE-(?=\\\\d)'}
"""


def test_every_problem_is_reported_in_one_go_with_its_line(capfd) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(TEXT, "rules.yaml")
    found = [(p.line, p.where.split()[0]) for p in info.value.problems]
    assert found == [(5, "rules[0]"), (7, "rules[0]"), (11, "rules[1]")]
    messages = "\n".join(str(p) for p in info.value.problems)
    assert "complience" in messages and "did you mean 'text'" in messages and "look-around" in messages
    assert "re2.cc" not in capfd.readouterr().err  # RE2's own logging stays quiet; our message says it
