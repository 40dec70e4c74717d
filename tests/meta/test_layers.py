"""The floors of ARCHITECTURE.md, enforced: dependencies point down only.

scoring/ imports nothing of ours and no HTTP, web or database library;
plugins/ and integration/ import only scoring/ (never each other);
integration/sandbox/ imports nothing of itsm_align at all;
nothing imports a top-level folder by its bare name (always itsm_align.<folder>).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("scoring", "plugins", "integration", "webhooks")

ALLOWED = {
    "scoring": set(),
    "plugins": {"scoring"},
    "integration": {"scoring"},
    "webhooks": {"scoring", "plugins", "integration"},
}
SCORING_FORBIDDEN = {"flask", "requests", "sqlalchemy", "werkzeug", "atlassian", "pysnc",
                     "urllib3", "http", "socket", "sqlite3", "psycopg", "redis", "gunicorn"}


def _modules():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield folder, path


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("itsm_align",) + path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name


CASES = list(_modules())


@pytest.mark.parametrize("folder,path", CASES, ids=[str(p.relative_to(ROOT)) for _, p in CASES])
def test_imports_point_down(folder: str, path: Path) -> None:
    rel = path.relative_to(ROOT)
    in_sandbox = rel.parts[:2] == ("integration", "sandbox")
    problems = []
    for line, name in _imports(path):
        top = name.split(".")[0]
        if top in FOLDERS:
            problems.append(f"{rel}:{line}: imports '{name}' by its bare name; use itsm_align.{name}")
            continue
        if top != "itsm_align":
            if folder == "scoring" and top in SCORING_FORBIDDEN:
                problems.append(f"{rel}:{line}: scoring/ must stay pure but imports '{name}'")
            continue
        parts = name.split(".")
        if len(parts) < 2:
            continue
        target = parts[1]
        if in_sandbox:
            if name.startswith("itsm_align.integration.sandbox"):
                continue  # the sandbox's own modules
            problems.append(f"{rel}:{line}: the sandbox stands in for a platform and may not import '{name}'")
        elif target != folder and target not in ALLOWED[folder]:
            problems.append(f"{rel}:{line}: {folder}/ may not import {target}/ ('{name}')")
    assert not problems, "\n".join(problems)


def test_every_package_folder_has_init() -> None:
    missing = [str(d.relative_to(ROOT)) for folder in FOLDERS for d in [ROOT / folder, *(ROOT / folder).rglob("*")]
               if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py")) and not (d / "__init__.py").exists()]
    assert not missing, f"folders with modules but no __init__.py (they would not be installed): {missing}"
