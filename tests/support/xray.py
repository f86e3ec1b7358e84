"""The X-Ray SDK's touch file: imported in a Lambda environment (``LAMBDA_TASK_ROOT`` set), the SDK
creates ``/tmp/.aws-xray/initialized``, a path it hard-codes (``aws_xray_sdk.core.lambda_launcher``;
on Lambda, /tmp is the function's own). The tests and benches that run the handlers with tracing on
wrap those runs in :func:`xray_touch_file_removed`, so that they leave nothing in this machine's /tmp.

Relies on the standard library only (the cold-start bench runs it under Lambda's Python).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

TOUCH_FILE = Path("/tmp/.aws-xray/initialized")


@contextlib.contextmanager
def xray_touch_file_removed() -> Iterator[None]:
    """Removes the touch file and its folder after the block, unless they were there before it."""
    folder_was_there, file_was_there = TOUCH_FILE.parent.exists(), TOUCH_FILE.exists()
    try:
        yield
    finally:
        if not file_was_there:
            TOUCH_FILE.unlink(missing_ok=True)
        if not folder_was_there:
            with contextlib.suppress(OSError):  # not empty: something else put a file there
                TOUCH_FILE.parent.rmdir()
