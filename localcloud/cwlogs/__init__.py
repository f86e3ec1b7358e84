"""localcloud's CloudWatch Logs: the read API (``responses.py``) over the log files every other
service writes (``models.py``), answering ``X-Amz-Target: Logs_20140328.*`` on the edge.

``start()`` runs the poller that time-stamps new lines; ``stop()`` ends it. Requests are checked
against botocore's ``logs`` model and so are responses (``localcloud/validation.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AwsError
from ..service import BaseService
from ..validation import operation_model, validate_input, validate_output
from .models import LogFiles, declared_groups
from .responses import LogsApi

if TYPE_CHECKING:
    from ..cloud import LocalCloud

__all__ = ["LogsService"]


class LogsService(BaseService):
    json_target: str | None = "Logs_20140328"
    json_content_type = "application/x-amz-json-1.1"

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.files = LogFiles(cloud.settings.state_dir)
        self.api = LogsApi(self.files, cloud.settings, lambda: declared_groups(cloud.store))

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.api.operations.get(operation)
        if handler is None:
            operation_model("logs", operation)  # UnknownOperationException for a non-operation
            raise AwsError(
                "UnknownOperationException",
                f"Logs_20140328.{operation} is not supported by localcloud (supported: "
                f"{', '.join(sorted(self.api.operations))})",
            )
        validate_input("logs", operation, params)
        result = handler(params)
        validate_output("logs", operation, result)
        return result

    def start(self) -> None:
        self.files.start()

    def stop(self) -> None:
        self.files.stop()
