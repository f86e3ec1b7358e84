"""Lambda's resources as localcloud keeps them: function configurations and invocation results.

A function is a JSON document in the store (kind ``lambda/function``) shaped like Lambda's
``FunctionConfiguration`` plus ``CodeDir`` (the local CodeUri directory) and ``Aliases`` (other
names that resolve to it, e.g. the template's logical ID). ``InvokeResult`` is what ``invoke``
returns to callers inside localcloud (Step Functions, the HTTP API) and what the Invoke REST route
renders. Relies on the standard library only.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

FUNCTION_KIND = "lambda/function"
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # bytes, request and response (RequestResponse)
MAX_ASYNC_PAYLOAD = 1024 * 1024  # bytes, request (Event)


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one invocation, as Lambda's Invoke API reports it."""

    status: int
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the function failed
    log_tail: str | None = None  # base64 of the last 4 KB of the invocation's log (LogType Tail)
    request_id: str = ""
    executed_version: str = "$LATEST"

    def json(self) -> Any:
        """The payload parsed as JSON (None when empty)."""
        return json.loads(self.payload) if self.payload else None

    @property
    def error_type(self) -> str | None:
        """``errorType`` of a function error payload (None when absent or not an error)."""
        if not self.function_error:
            return None
        try:
            doc = json.loads(self.payload)
        except ValueError:
            return None
        value = doc.get("errorType") if isinstance(doc, dict) else None
        return str(value) if value else None

    def log_text(self) -> str:
        return base64.b64decode(self.log_tail).decode(errors="replace") if self.log_tail else ""


def function_name_from(identifier: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function name, partial ARN (``123456789012:function:f``) or full ARN."""
    parts = identifier.split(":")
    if identifier.startswith("arn:") and len(parts) >= 7 and parts[5] == "function":
        return parts[6], (parts[7] if len(parts) > 7 else None)
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2], (parts[3] if len(parts) > 3 else None)
    if len(parts) == 2:
        return parts[0], parts[1]
    return identifier, None
