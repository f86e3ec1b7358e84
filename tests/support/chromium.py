"""Debian's headless chromium for the tests that render a page (reports, the browser guard).

``headless(profile, *args)`` is the command line: a throw-away profile and no background traffic
(no updates, sync or first-run pages), so a test sees only the page it loads.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


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
