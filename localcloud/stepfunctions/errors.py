"""The errors an execution raises while it runs, named as the Amazon States Language names them.

``StatesFailure`` is a state's failure (``error``/``cause`` as in the ``{"Error", "Cause"}``
error output); Retry and Catch match on ``error``. ``ExecutionCancelled`` unwinds an execution
that was stopped (StopExecution), timed out, or interrupted by a shutdown; it is never caught.
Relies on nothing but the standard library.
"""

from __future__ import annotations

RUNTIME = "States.Runtime"
ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
BRANCH_FAILED = "States.BranchFailed"

# States.ALL matches every error except these (the ASL spec: terminal errors).
_NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class StatesFailure(Exception):
    """A state failed with an ASL error name and a human-readable cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause

    def output(self) -> dict[str, str]:
        """The error output a Catch passes on (``{"Error": ..., "Cause": ...}``)."""
        return {"Error": self.error, "Cause": self.cause}


class ExecutionCancelled(Exception):
    """The execution was stopped, timed out or interrupted by a shutdown; unwind without recording."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def error_matches(error: str, error_equals: list[str]) -> bool:
    """Whether a retrier's or catcher's ``ErrorEquals`` matches ``error`` (ASL rules)."""
    for name in error_equals:
        if name == error:
            return True
        if name == ALL and error not in _NOT_MATCHED_BY_ALL:
            return True
        if name == TASK_FAILED and error not in _NOT_MATCHED_BY_ALL and error != TIMEOUT:
            return True
    return False


def runtime_error(state: str, entered_event: int, message: str) -> StatesFailure:
    """A States.Runtime failure with AWS's wording for errors raised while executing a state."""
    return StatesFailure(
        RUNTIME,
        f"An error occurred while executing the state '{state}' (entered at the event id #{entered_event}). "
        f"{message}",
    )
