"""Retry (IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds, JitterStrategy) and Catch, with the
developer guide's "complex retry scenario" as a test vector:
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"""

from __future__ import annotations

from typing import Any

from sfn_testkit import FakeLambdas, FunctionError, run, single

from localcloud.stepfunctions.errors import error_matches
from localcloud.stepfunctions.interpreter import Interpreter

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def failing(*errors: str, then: Any = "ok") -> FakeLambdas:
    remaining = list(errors)

    def fn(_event: Any) -> Any:
        if remaining:
            raise FunctionError(remaining.pop(0), "failed")
        return then

    return FakeLambdas().add("X", fn)


def test_complex_retry_scenario_from_the_docs() -> None:
    # Fails with ErrorA, ErrorB, ErrorC, ErrorB, ErrorB: waits 1, 2 (first retrier), 5 (second retrier),
    # 4 (first retrier again), then the first retrier is exhausted and the Catch sends it to Z.
    definition = {
        "StartAt": "X",
        "States": {
            "X": {
                "Type": "Task",
                "Resource": FN + "X",
                "Next": "Y",
                "Retry": [
                    {
                        "ErrorEquals": ["ErrorA", "ErrorB"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 2.0,
                        "MaxAttempts": 2,
                    },
                    {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
            },
            "Y": {"Type": "Pass", "Result": "Y", "End": True},
            "Z": {"Type": "Pass", "Result": "Z", "End": True},
        },
    }
    lambdas = failing("ErrorA", "ErrorB", "ErrorC", "ErrorB", "ErrorB")
    outcome = run(definition, {}, lambdas=lambdas)
    assert outcome.sleeps == [1.0, 2.0, 5.0, 4.0]
    assert outcome.output == "Z"
    assert len(lambdas.calls) == 5


def test_retry_succeeds_and_counts_retries_in_the_context() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "X", "Payload": {"retries.$": "$$.State.RetryCount"}},
        "Retry": [
            {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}
        ],
    }
    seen: list[int] = []

    def fn(event: Any) -> Any:
        seen.append(event["retries"])
        if len(seen) < 3:
            raise FunctionError("Flaky", "not yet")
        return "done"

    outcome = single(state, {}, lambdas=FakeLambdas().add("X", fn))
    assert outcome.error is None and outcome.output["Payload"] == "done"
    assert seen == [0, 1, 2]
    assert outcome.sleeps == [3.0, 4.5]


def test_max_attempts_zero_never_retries() -> None:
    state = {
        "Type": "Task",
        "Resource": FN + "X",
        "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"]}],
    }
    outcome = single(state, {}, lambdas=failing("Boom"))
    assert outcome.error == "Boom" and outcome.sleeps == []


def test_default_retry_is_three_attempts_at_1_2_4_seconds() -> None:
    outcome = single(
        {"Type": "Task", "Resource": FN + "X", "Retry": [{"ErrorEquals": ["States.ALL"]}]},
        {},
        lambdas=failing("E", "E", "E", "E"),
    )
    assert outcome.error == "E" and outcome.sleeps == [1.0, 2.0, 4.0]


def test_max_delay_seconds_caps_the_backoff() -> None:
    retrier = {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 2,
        "BackoffRate": 10,
        "MaxAttempts": 4,
        "MaxDelaySeconds": 30,
    }
    outcome = single(
        {"Type": "Task", "Resource": FN + "X", "Retry": [retrier]}, {}, lambdas=failing("E", "E", "E", "E")
    )
    assert outcome.sleeps == [2.0, 20.0, 30.0, 30.0] and outcome.output == "ok"


def test_full_jitter_stays_within_the_backoff() -> None:
    retrier = {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 10,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }
    delays = [Interpreter.retry_delay(retrier, attempt) for attempt in (0, 1, 2) for _ in range(50)]
    assert all(0 <= d <= 10 for d in delays[:50]) and all(0 <= d <= 40 for d in delays[100:])
    assert len(set(delays)) > 10  # random, not fixed
    assert Interpreter.retry_delay({**retrier, "JitterStrategy": "NONE"}, 2) == 40


def test_error_name_matching_rules() -> None:
    assert error_matches("Anything", ["States.ALL"])
    assert not error_matches("States.Runtime", ["States.ALL"])
    assert not error_matches("States.DataLimitExceeded", ["States.ALL"])
    assert error_matches("Lambda.Unknown", ["States.TaskFailed"])
    assert not error_matches("States.Timeout", ["States.TaskFailed"])
    assert error_matches("States.Timeout", ["States.Timeout"])
    assert error_matches("ErrorB", ["ErrorA", "ErrorB"])


def test_catch_order_and_default_result_path() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-fallback-states
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN + "X",
                "End": True,
                "Catch": [
                    {
                        "ErrorEquals": ["java.lang.Exception"],
                        "ResultPath": "$.error-info",
                        "Next": "RecoveryState",
                    },
                    {"ErrorEquals": ["States.ALL"], "Next": "EndState"},
                ],
            },
            "RecoveryState": {"Type": "Pass", "End": True},
            "EndState": {"Type": "Pass", "End": True},
        },
    }
    first = run(definition, {"in": 1}, lambdas=failing("java.lang.Exception"))
    assert first.output["in"] == 1 and first.output["error-info"]["Error"] == "java.lang.Exception"
    second = run(definition, {"in": 1}, lambdas=failing("Other"))
    assert set(second.output) == {"Error", "Cause"} and second.output["Error"] == "Other"


def test_timeout_retry_then_catch() -> None:
    import time

    lambdas = FakeLambdas().add("Sleep", lambda e: time.sleep(1.5))
    definition = {
        "StartAt": "HelloWorld",
        "States": {
            "HelloWorld": {
                "Type": "Task",
                "Resource": FN + "Sleep",
                "TimeoutSeconds": 1,
                "End": True,
                "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "fallback"}],
            },
            "fallback": {"Type": "Pass", "Result": "Hello, AWS Step Functions!", "End": True},
        },
    }
    outcome = run(definition, {}, lambdas=lambdas)
    assert outcome.output == "Hello, AWS Step Functions!"
    assert outcome.sleeps == [1.0] and outcome.types.count("LambdaFunctionTimedOut") == 2


def test_runtime_errors_are_not_caught_by_states_all() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Task",
                "Resource": FN + "X",
                "InputPath": "$.missing",
                "End": True,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}],
            },
            "C": {"Type": "Succeed"},
        },
    }
    assert run(definition, {}, lambdas=failing()).error == "States.Runtime"
