"""Helpers for config tests: write a config file into tmp_path."""
from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO / "config"

MINIMAL = """\
objectives:
  - {id: revenue, name: Grow online revenue, weight: 5, owner: VP Sales}
  - {id: compliance, name: Stay compliant, weight: 4}
rules:
  - id: shop-projects
    objective: revenue
    confidence: 0.9
    when: {project: [SHOP, PAY]}
  - id: gdpr-words
    objective: compliance
    confidence: 0.7
    when: {text: {any: [gdpr, "data subject"]}}
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text (dedented) to tmp_path/itsm-align.yaml and return its path."""

    def write(text: str, name: str = "itsm-align.yaml") -> Path:
        path = tmp_path / name
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their config explicitly; a developer's ITSM_ALIGN_CONFIG must not leak in."""
    monkeypatch.delenv("ITSM_ALIGN_CONFIG", raising=False)
