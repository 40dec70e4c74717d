"""The floors of the README's architecture section, enforced: dependencies point down only.

floor 4  cli/          everything below (the composition root)
floor 3  webhooks/     floors 1-2; inside it, storage/ imports only storage/
floor 2  integration/, plugins/, reports/: scoring/ only (never each other)
floor 1  scoring/      nothing of ours
-        sandbox/      nothing of itsm_align at all (it stands in for the platforms)

scoring/ and reports/ stay pure: no HTTP, web or database library. Nothing
imports a top-level folder by its bare name (always itsm_align.<folder>).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("scoring", "plugins", "integration", "reports", "webhooks", "cli", "sandbox")

ALLOWED = {
    "scoring": set(),
    "plugins": {"scoring"},
    "integration": {"scoring"},
    "reports": {"scoring"},
    "webhooks": {"scoring", "plugins", "integration", "reports"},
    "cli": {"scoring", "plugins", "integration", "reports", "webhooks", "sandbox"},
    "sandbox": set(),
}
PURE = ("scoring", "reports")
PURE_FORBIDDEN = {"flask", "requests", "sqlalchemy", "werkzeug", "atlassian", "pysnc",
                  "urllib3", "http", "socket", "sqlite3", "psycopg", "redis", "gunicorn"}


def _modules():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield folder, path


def test_every_floor_exists() -> None:
    assert [f for f in FOLDERS if not (ROOT / f / "__init__.py").is_file()] == []


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
    in_storage = rel.parts[:2] == ("webhooks", "storage")
    problems = []
    for line, name in _imports(path):
        top = name.split(".")[0]
        if top in FOLDERS:
            problems.append(f"{rel}:{line}: imports '{name}' by its bare name; use itsm_align.{name}")
            continue
        if top != "itsm_align":
            if folder in PURE and top in PURE_FORBIDDEN:
                problems.append(f"{rel}:{line}: {folder}/ must stay pure but imports '{name}'")
            continue
        parts = name.split(".")
        if len(parts) < 2:
            continue
        target = parts[1]
        if target != folder and target not in ALLOWED[folder]:
            problems.append(f"{rel}:{line}: {folder}/ may not import {target}/ ('{name}')")
        elif in_storage and target == "webhooks" and parts[2:3] != ["storage"]:
            problems.append(f"{rel}:{line}: webhooks/storage/ is the bottom of webhooks/ and may not import "
                            f"'{name}'")
    assert not problems, "\n".join(problems)


def test_every_package_folder_has_init() -> None:
    missing = [str(d.relative_to(ROOT)) for folder in FOLDERS for d in [ROOT / folder, *(ROOT / folder).rglob("*")]
               if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py")) and not (d / "__init__.py").exists()]
    assert not missing, f"folders with modules but no __init__.py (they would not be installed): {missing}"
