"""The hook surface stays honest: every hook typed, documented (docstring and
docs/plugin-hooks.md with its exact signature) and exercised by a test in this folder."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from itsm_align.plugins import hookspecs
from itsm_align.plugins.manager import get_plugin_manager

from .conftest import REPO

HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("itsm_align_") and inspect.isfunction(f))
REFERENCE = REPO / "docs" / "plugin-hooks.md"


def signature(name: str) -> str:
    """``name(arg: Type, ...) -> Return`` as written in hookspecs.py."""
    fn = getattr(hookspecs, name)
    ann = fn.__annotations__
    args = ", ".join(f"{p}: {ann[p]}" for p in inspect.signature(fn).parameters)
    return f"{name}({args}) -> {ann['return']}"


def test_there_are_hooks_and_the_manager_knows_them_all() -> None:
    assert HOOKS == ["itsm_align_assessed", "itsm_align_match", "itsm_align_register_rule_types",
                     "itsm_align_score"]
    pm = get_plugin_manager(load_entrypoints=False)
    assert sorted(n for n in vars(pm.hook) if n.startswith("itsm_align_")) == HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_typed_and_has_a_docstring(name: str) -> None:
    fn = getattr(hookspecs, name)
    params = list(inspect.signature(fn).parameters)
    assert set(fn.__annotations__) == {*params, "return"}, f"{name}: annotate every argument and the return"
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 80, f"{name}: say what each argument is, what it returns and what None means"
    assert "None" in doc or fn.__annotations__["return"] == "None"
    for p in params:
        assert f"``{p}``" in doc, f"{name}: the docstring does not describe argument {p!r}"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented_in_the_reference_with_its_exact_signature(name: str) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert f"## `{signature(name)}`" in text, f"docs/plugin-hooks.md lacks a heading `{signature(name)}`"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_implemented_by_a_test_plugin(name: str) -> None:
    here = Path(__file__).parent
    sources = [p.read_text(encoding="utf-8") for p in here.glob("test_*.py") if p.name != Path(__file__).name]
    pattern = re.compile(rf"@hookimpl(\(.*\))?\s+def {name}\(")
    assert any(pattern.search(s) for s in sources), f"no test in tests/plugins implements {name}"
