"""The demo's one error type: a failure it reports as one clear line (exit code 1)."""

from __future__ import annotations


class DemoError(Exception):
    """A failure the demo reports as one clear line (exit code 1)."""
