"""localcloud's tunables from the environment (``LOCALCLOUD_*`` numbers and the log level): each
variable named once, here, with its kind, its range and its default, and checked all together.

A value of the wrong kind or out of range is an :class:`EnvironmentProblem` that names the variable,
the value and what it takes; every ``localcloud`` and ``pipeline-demo`` command checks the
environment first and prints it as one line (exit status 1), where a bad value used to be a
traceback at import (``LOCALCLOUD_LAMBDA_CONCURRENCY=four``) or was silently replaced by the
default (``LOCALCLOUD_STOP_GRACE_SECONDS=soon``). A variable set to an empty string counts as unset.

The services read :func:`current` when they use a value (never at import), so a bad value cannot
break an import; it is read once per process. The strings (state dir, stack name, parameter
overrides, allowed hosts and origins) are read where they are parsed. docs/localcloud.md lists
every variable. Relies on pydantic (validation and its messages).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

GIB = 1024**3
PORTS = range(1, 65536)  # TCP's ports; the CLI's --port and --api-port take the same
Port = Annotated[int, Field(ge=PORTS.start, le=PORTS.stop - 1)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
]


class EnvironmentProblem(ValueError):
    """A ``LOCALCLOUD_*`` variable holds a value localcloud cannot use (the message names it)."""


class LocalcloudEnvironment(BaseModel):
    """The tunables, by their variables' names (the defaults are localcloud's, or AWS's where AWS has one)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_default=True)

    port: Port = Field(4566, alias="LOCALCLOUD_PORT")
    api_port: Port = Field(3000, alias="LOCALCLOUD_API_PORT")
    log_level: LogLevel = Field("INFO", alias="LOCALCLOUD_LOG_LEVEL")
    lambda_concurrency: int = Field(4, ge=1, le=1000, alias="LOCALCLOUD_LAMBDA_CONCURRENCY")
    lambda_init_timeout: Seconds = Field(60.0, alias="LOCALCLOUD_LAMBDA_INIT_TIMEOUT")
    lambda_idle_seconds: Seconds = Field(900.0, alias="LOCALCLOUD_LAMBDA_IDLE_SECONDS")
    body_idle_seconds: Seconds = Field(60.0, alias="LOCALCLOUD_BODY_IDLE_SECONDS")
    header_seconds: Seconds = Field(30.0, alias="LOCALCLOUD_HEADER_SECONDS")
    max_extract_bytes: int = Field(64 * GIB, ge=1, alias="LOCALCLOUD_MAX_EXTRACT_BYTES")
    stop_grace_seconds: float = Field(120.0, ge=0, allow_inf_nan=False, alias="LOCALCLOUD_STOP_GRACE_SECONDS")
    gpus: int | None = Field(None, ge=0, alias="LOCALCLOUD_GPUS")


VARIABLES = tuple(str(field.alias) for field in LocalcloudEnvironment.model_fields.values())


def from_environ(environ: Mapping[str, str]) -> LocalcloudEnvironment:
    """The tunables ``environ`` sets (the defaults for the rest); EnvironmentProblem names each bad one."""
    given = {name: environ[name] for name in VARIABLES if environ.get(name, "").strip()}
    try:
        return LocalcloudEnvironment.model_validate(given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            name = ".".join(str(part) for part in error["loc"])
            problems.append(f"{name}={given.get(name, '')!r}: {error['msg']}")
        raise EnvironmentProblem("; ".join(problems)) from None


@functools.cache
def current() -> LocalcloudEnvironment:
    """This process's tunables, read from ``os.environ`` once."""
    return from_environ(os.environ)
