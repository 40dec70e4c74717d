"""Fixtures of the engine tests: a fresh plugin manager per test, the admin's example file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from itsm_align.plugins.engine import Engine, build_engine
from itsm_align.plugins.manager import get_plugin_manager

REPO = Path(__file__).resolve().parents[2]
MINIMAL = REPO / "config" / "example-minimal.yaml"


def load_yaml(text_or_path: str | Path) -> dict[str, Any]:
    text = text_or_path.read_text(encoding="utf-8") if isinstance(text_or_path, Path) else text_or_path
    return yaml.safe_load(text)


def engine_from_yaml(text: str, **kwargs: Any) -> Engine:
    cfg = load_yaml(text)
    kwargs.setdefault("pm", get_plugin_manager(load_entrypoints=False))
    return build_engine(cfg["objectives"], cfg.get("rules") or [], scoring=cfg.get("scoring"), **kwargs)


@pytest.fixture
def pm():
    """A fresh plugin manager with only the built-ins (no installed third-party plugins)."""
    return get_plugin_manager(load_entrypoints=False)


@pytest.fixture
def minimal(pm) -> Engine:
    cfg = load_yaml(MINIMAL)
    return build_engine(cfg["objectives"], cfg["rules"], pm=pm)
