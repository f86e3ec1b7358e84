"""The one exception type every emulated service raises for a client-visible error.

Each wire protocol renders it in AWS's own shape (see ``protocol.py``): JSON ``__type``/``message``
for SageMaker and Step Functions, XML ``<Error>`` for S3, ``x-amzn-ErrorType`` for Lambda.
"""

from __future__ import annotations


class AwsError(Exception):
    """An error as AWS reports it: a code (``ValidationException``), a message and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: object) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def not_supported(what: str) -> AwsError:
    """For a field, value or operation that real AWS accepts but localcloud does not emulate."""
    return AwsError("ValidationException", f"{what} is not supported by localcloud")
