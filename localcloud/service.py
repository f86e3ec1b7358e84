"""The interface every emulated service implements, so the edge and the CLI can treat them alike.

A service answers the JSON protocol through ``dispatch`` when it has a ``json_target`` (the
``X-Amz-Target`` prefix, e.g. ``SageMaker`` or ``AWSStepFunctions``; the same prefix names it in
the RPC-v2 CBOR path ``/service/<prefix>/operation/<Op>``), the query protocol when it has a
``query_service`` (the botocore model name, e.g. ``sts``: form POSTs to ``/``, see ``query.py``),
and/or REST requests through the Starlette ``routes`` it returns. ``dispatch`` takes and returns
plain dicts whatever the protocol. ``start`` runs once the server is up (reconcile
persisted state: resume jobs, restart endpoints); ``stop`` ends every child process it owns.

A service is built with keyword arguments naming what it uses (``settings``, ``store``, peer
services or narrow callables); ``localcloud/cloud.py`` builds and wires them, so no service
imports the container.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from starlette.routing import BaseRoute


class Service(Protocol):
    json_target: str | None
    json_content_type: str
    query_service: str | None

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Handle one JSON-protocol operation; raise ``AwsError`` for client errors."""
        ...

    def routes(self) -> list[BaseRoute]:
        """REST routes this service serves on the edge port (checked before S3's catch-all)."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class BaseService:
    """Defaults for a service: no JSON target, no routes, nothing to reconcile or stop."""

    json_target: str | None = None
    json_content_type = "application/x-amz-json-1.1"
    query_service: str | None = None

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from .errors import AwsError

        raise AwsError("UnknownOperationException", f"{operation} is not supported by localcloud")

    def routes(self) -> list[BaseRoute]:
        return []

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class OperationTable(Protocol):
    """A wire layer that maps each operation name to the function answering it."""

    @property
    def operations(self) -> Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]: ...


class TableService(BaseService):
    """A service whose wire layer is an :class:`OperationTable`: each request and each answer is
    checked against botocore's ``model_name`` model. An operation not in the table is answered
    ``unsupported_code`` (the query protocol's ``InvalidAction``; JSON services set AWS's
    ``UnknownOperationException``, after botocore's model confirms the name is an operation) saying
    localcloud does not support it (with ``scope``, what it does support)."""

    model_name: str
    display_name: str
    scope: str = ""
    unsupported_code = "InvalidAction"
    api: OperationTable

    def unsupported_name(self, operation: str) -> str:
        return f"{self.display_name} {operation}"

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from .errors import AwsError
        from .validation import operation_model, validate_input, validate_output

        handler = self.api.operations.get(operation)
        if handler is None:
            if self.unsupported_code == "UnknownOperationException":
                operation_model(self.model_name, operation)  # a non-operation is answered as such
            scope = f"{self.scope}; " if self.scope else ""
            raise AwsError(
                self.unsupported_code,
                f"{self.unsupported_name(operation)} is not supported by localcloud ({scope}supported: "
                f"{', '.join(sorted(self.api.operations))})",
            )
        validate_input(self.model_name, operation, params)
        result = handler(params)
        validate_output(self.model_name, operation, result)
        return result
