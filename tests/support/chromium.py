"""Debian's chromium for the tests that render a page (reports, the browser guard, the console).

``headless(profile, *args)`` is the command line for a one-shot run: a throw-away profile and no
background traffic (no updates, sync or first-run pages), so a test sees only the page it loads.
``launch()`` is the same browser driven by Playwright for Python (``executable_path``: Playwright
downloads no browser of its own), and ``collect_errors(page, errors)`` gathers what a page logs as
an error (script errors, CSP violations) for a test to assert there are none. ``$CHROMIUM``
overrides the browser's path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
MISSING = f"no chromium at {CHROMIUM} (apt-get install chromium)"


def headless(profile: Path, *args: str) -> list[str]:
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]


@contextmanager
def launch() -> Iterator[Any]:
    """A Playwright ``Browser`` on :data:`CHROMIUM`, closed (with Playwright's driver) on exit."""
    from playwright.sync_api import sync_playwright  # only the Playwright tests pay for the import

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def collect_errors(page: Any, errors: list[str]) -> Any:
    """Append to ``errors`` every console error and uncaught exception of ``page``; return the page."""
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page
