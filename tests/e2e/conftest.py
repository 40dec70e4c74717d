"""A real headless Chromium for the browser tests, and where their screenshots go.

Debian's ``chromium`` package (``/usr/bin/chromium``; scripts/system-deps.sh installs
it) driven by Playwright's Python package (the dev extra). Playwright's own browser
download is never used. Screenshots go to ``artifacts/screenshots/`` in the repository
(ignored by git), or to ``$ITSM_ALIGN_ARTIFACTS/screenshots``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = Path(os.environ.get("ITSM_ALIGN_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    base = Path(os.environ.get("ITSM_ALIGN_ARTIFACTS", ROOT / "artifacts"))
    folder = base / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (scripts/system-deps.sh does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]' installs playwright")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


class ConsoleErrors(list):
    """Errors the page logged (console.error, uncaught exceptions, failed requests)."""

    def watch(self, page) -> "ConsoleErrors":  # type: ignore[no-untyped-def]
        page.on("console", lambda message: self.append(f"console: {message.text}")
                if message.type == "error" else None)
        page.on("pageerror", lambda error: self.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: self.append(f"request failed: {request.url}"))
        return self


@pytest.fixture
def page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.errors = ConsoleErrors().watch(opened)
    try:
        yield opened
    finally:
        context.close()
