"""localcloud's CloudWatch Logs: the read API (``responses.py``) over the log files every other
service writes (``models.py``), answering ``X-Amz-Target: Logs_20140328.*`` on the edge.

``start()`` runs the poller that time-stamps new lines; ``stop()`` ends it. Requests are checked
against botocore's ``logs`` model and so are responses (``localcloud/validation.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..service import TableService
from .models import LogFiles, declared_groups
from .responses import LogsApi

__all__ = ["LogsService"]


class LogsService(TableService):
    model_name = "logs"
    unsupported_code = "UnknownOperationException"
    json_target: str | None = "Logs_20140328"
    json_content_type = "application/x-amz-json-1.1"

    def __init__(self, *, settings: Settings, stacks: Callable[[], list[dict[str, Any]]]) -> None:
        """``stacks``: the deployed stacks (CloudFormation's), whose AWS::Logs::LogGroup resources exist."""
        self.files = LogFiles(settings.state_dir)
        self.api = LogsApi(self.files, settings, lambda: declared_groups(stacks()))

    def unsupported_name(self, operation: str) -> str:
        return f"{self.json_target}.{operation}"

    def start(self) -> None:
        self.files.start()

    def stop(self) -> None:
        self.files.stop()
