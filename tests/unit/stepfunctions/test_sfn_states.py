"""The state types: Task (lambda:invoke, function ARNs, unsupported resources, TimeoutSeconds), Pass,
Wait (all four forms), Choice routing, Parallel, Map (inline), Succeed and Fail (ErrorPath/CausePath)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from sfn_testkit import FakeLambdas, FunctionError, run, single

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
NOW = dt.datetime(2016, 3, 14, 1, 58, tzinfo=dt.UTC).timestamp()


def fixed_clock() -> float:
    return NOW


def test_wait_seconds() -> None:
    outcome = single({"Type": "Wait", "Seconds": 10}, {"a": 1}, clock=fixed_clock)
    assert outcome.sleeps == [10.0]
    assert outcome.output == {"a": 1}
    assert outcome.types == ["WaitStateEntered", "WaitStateExited"]


def test_wait_seconds_path() -> None:
    assert single({"Type": "Wait", "SecondsPath": "$.s"}, {"s": 7}, clock=fixed_clock).sleeps == [7.0]
    bad = single({"Type": "Wait", "SecondsPath": "$.s"}, {"s": "7"}, clock=fixed_clock)
    assert bad.error == "States.Runtime" and "non-negative integer" in (bad.cause or "")


def test_wait_timestamp() -> None:
    # ASL spec example: "Timestamp": "2016-03-14T01:59:00Z"
    outcome = single({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z"}, {}, clock=fixed_clock)
    assert outcome.sleeps == [60.0]
    assert single({"Type": "Wait", "Timestamp": "2016-03-14T01:00:00Z"}, {}, clock=fixed_clock).sleeps == []


def test_wait_timestamp_path() -> None:
    outcome = single(
        {"Type": "Wait", "TimestampPath": "$.expirydate"},
        {"expirydate": "2016-03-14T01:58:30Z"},
        clock=fixed_clock,
    )
    assert outcome.sleeps == [30.0]
    bad = single({"Type": "Wait", "TimestampPath": "$.t"}, {"t": "tomorrow"}, clock=fixed_clock)
    assert bad.error == "States.Runtime"


def test_wait_is_interruptible() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from localcloud.stepfunctions.errors import ExecutionCancelled
    from localcloud.stepfunctions.history import MemoryHistory
    from localcloud.stepfunctions.interpreter import Cancellation, ExecutionInfo, Interpreter

    cancel = Cancellation()
    info = ExecutionInfo("e", "n", "m", "m", "r", time.time(), {})
    interpreter = Interpreter(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}},
        info,
        invoke_lambda=FakeLambdas().invoke,
        events=MemoryHistory(),
        cancel=cancel,
        pool=ThreadPoolExecutor(1),
    )
    errors: list[BaseException] = []

    def target() -> None:
        try:
            interpreter.run()
        except ExecutionCancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    started = time.monotonic()
    thread.start()
    time.sleep(0.2)
    cancel.cancel("aborted")
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert errors and errors[0].reason == "aborted"  # type: ignore[attr-defined]


def test_succeed_and_fail() -> None:
    assert single({"Type": "Succeed", "OutputPath": "$.x"}, {"x": 1}).output == 1
    outcome = single({"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"})
    assert (outcome.error, outcome.cause) == ("ErrorA", "Kaiju attack")
    assert outcome.types == ["FailStateEntered"]


def test_fail_error_path_and_cause_path() -> None:
    data = {"Error": "CustomError", "Cause": "the cause", "n": 3}
    outcome = single({"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"}, data)
    assert (outcome.error, outcome.cause) == ("CustomError", "the cause")
    outcome = single(
        {"Type": "Fail", "Error": "E", "CausePath": "States.Format('failed after {} tries', $.n)"}, data
    )
    assert outcome.cause == "failed after 3 tries"


def test_task_lambda_invoke_events() -> None:
    lambdas = FakeLambdas().add("F", lambda e: {"ok": e})
    outcome = single(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "F", "Payload.$": "$"},
            "TimeoutSeconds": 30,
        },
        {"x": 1},
        lambdas=lambdas,
    )
    assert outcome.types == [
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
    ]
    scheduled = outcome.history.events[1]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and scheduled["resource"] == "invoke"
    assert scheduled["timeoutInSeconds"] == 30 and '"FunctionName":"F"' in scheduled["parameters"]


def test_task_function_arn_resource() -> None:
    lambdas = FakeLambdas().add("Double", lambda e: e * 2)
    outcome = single({"Type": "Task", "Resource": FN + "Double"}, 21, lambdas=lambdas)
    assert outcome.output == 42
    assert outcome.types == [
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
    ]


def test_function_error_is_the_error_type_with_the_payload_as_cause() -> None:
    def fail(_event: Any) -> None:
        raise FunctionError("ValueError", "bad value")

    outcome = single(
        {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "F"}},
        {},
        lambdas=FakeLambdas().add("F", fail),
    )
    assert outcome.error == "ValueError"
    assert '"errorMessage": "bad value"' in (outcome.cause or "")
    assert outcome.history.events[-1]["type"] == "TaskFailed"


def test_missing_function_is_a_lambda_service_error() -> None:
    outcome = single({"Type": "Task", "Resource": FN + "Nope"}, {})
    assert outcome.error == "Lambda.ResourceNotFoundException"
    assert "Function not found" in (outcome.cause or "")


def test_unsupported_resource_fails_with_states_runtime() -> None:
    outcome = single(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}],
        },
        {},
    )
    assert outcome.error == "States.Runtime"
    assert "not supported by localcloud" in (outcome.cause or "")


def test_task_timeout_seconds_is_states_timeout() -> None:
    lambdas = FakeLambdas().add("Slow", lambda e: time.sleep(3) or "late")
    started = time.monotonic()
    outcome = single({"Type": "Task", "Resource": FN + "Slow", "TimeoutSeconds": 1}, {}, lambdas=lambdas)
    assert time.monotonic() - started < 2.5
    assert outcome.error == "States.Timeout"
    assert "LambdaFunctionTimedOut" in outcome.types
    via_path = single(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "TimeoutSecondsPath": "$.t",
            "Parameters": {"FunctionName": "Slow"},
        },
        {"t": 1},
        lambdas=lambdas,
    )
    assert via_path.error == "States.Timeout" and "TaskTimedOut" in via_path.types


def test_parallel_runs_branches_concurrently_and_collects_outputs() -> None:
    gate = threading.Barrier(2, timeout=5)

    def meet(event: Any) -> Any:
        gate.wait()  # both branches must be in flight at once
        return event["n"]

    lambdas = FakeLambdas().add("Meet", meet)
    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "Meet", "End": True}}}
    state = {
        "Type": "Parallel",
        "Branches": [
            branch,
            {
                "StartAt": "P",
                "States": {
                    "P": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "T"},
                    "T": {"Type": "Task", "Resource": FN + "Meet", "End": True},
                },
            },
        ],
        "ResultSelector": {"sum.$": "$[0]"},
    }
    outcome = single(state, {"n": 5}, lambdas=lambdas)
    assert outcome.output == {"sum": 5}
    assert outcome.types[:2] == ["ParallelStateEntered", "ParallelStateStarted"]
    assert outcome.types[-2:] == ["ParallelStateSucceeded", "ParallelStateExited"]


def test_parallel_branch_failure_fails_the_state() -> None:
    branches = [
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "BranchError", "Cause": "c"}}},
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "End": True}}},
    ]
    outcome = single({"Type": "Parallel", "Branches": branches}, {})
    assert (outcome.error, outcome.cause) == ("BranchError", "c")
    assert "ParallelStateFailed" in outcome.types
    caught = run(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": branches,
                    "Next": "Done",
                    "Catch": [{"ErrorEquals": ["BranchError"], "ResultPath": "$.failure", "Next": "Done"}],
                },
                "Done": {"Type": "Succeed"},
            },
        },
        {"in": 1},
    )
    assert caught.output == {"in": 1, "failure": {"Error": "BranchError", "Cause": "c"}}


def test_map_doc_example_with_parameters() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-map-state.html
    data = {
        "ship-date": "2016-03-14T01:59:00Z",
        "detail": {
            "delivery-partner": "UQS",
            "shipped": [
                {"prod": "R31", "dest-code": 9511, "quantity": 1344},
                {"prod": "S39", "dest-code": 9511, "quantity": 40},
                {"prod": "R31", "dest-code": 9833, "quantity": 12},
                {"prod": "R40", "dest-code": 9860, "quantity": 887},
                {"prod": "R40", "dest-code": 9511, "quantity": 1220},
            ],
        },
    }
    lambdas = FakeLambdas().add(
        "ship-val", lambda e: {"valid": e["parcel"]["quantity"] > 20, "by": e["courier"]}
    )
    state = {
        "Type": "Map",
        "InputPath": "$.detail",
        "ItemsPath": "$.shipped",
        "MaxConcurrency": 0,
        "ResultPath": "$.detail.shipped",
        "Parameters": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.delivery-partner"},
        "Iterator": {
            "StartAt": "Validate",
            "States": {"Validate": {"Type": "Task", "Resource": FN + "ship-val", "End": True}},
        },
    }
    outcome = single(state, data, lambdas=lambdas)
    assert lambdas.calls[0][1] in [{"parcel": p, "courier": "UQS"} for p in data["detail"]["shipped"]]
    assert outcome.output["ship-date"] == data["ship-date"]
    assert outcome.output["detail"]["shipped"] == [
        {"valid": q > 20, "by": "UQS"} for q in (1344, 40, 12, 887, 1220)
    ]
    assert outcome.types.count("MapIterationStarted") == 5
    started = next(e for e in outcome.history.events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 5}


def test_map_max_concurrency_one_runs_in_order_with_item_processor() -> None:
    order: list[int] = []
    lambdas = FakeLambdas().add("Rec", lambda e: order.append(e) or e)
    state = {
        "Type": "Map",
        "MaxConcurrency": 1,
        "ItemSelector": {"i.$": "$$.Map.Item.Index"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": FN + "Rec", "OutputPath": "$.i", "End": True}},
        },
    }
    outcome = single(state, list("abcdef"), lambdas=lambdas)
    assert outcome.output == [0, 1, 2, 3, 4, 5]
    assert order == [{"i": i} for i in range(6)]


def test_map_iteration_failure_fails_the_map() -> None:
    def check(e: Any) -> Any:
        if e == 3:
            raise FunctionError("BadItem", "item 3")
        return e

    state = {
        "Type": "Map",
        "Iterator": {
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": FN + "Check", "End": True}},
        },
    }
    outcome = single(state, [1, 2, 3, 4], lambdas=FakeLambdas().add("Check", check))
    assert outcome.error == "BadItem"
    assert "MapIterationFailed" in outcome.types and outcome.types[-1] == "MapStateFailed"


def test_map_items_path_must_be_an_array() -> None:
    outcome = single(
        {
            "Type": "Map",
            "ItemsPath": "$.x",
            "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        },
        {"x": {"not": "a list"}},
    )
    assert outcome.error == "States.Runtime"


def test_output_over_256kb_is_data_limit_exceeded() -> None:
    outcome = single({"Type": "Pass", "Result": "x" * 300_000})
    assert outcome.error == "States.DataLimitExceeded"


def test_lambda_invoke_in_other_partitions() -> None:
    lambdas = FakeLambdas().add("F", lambda e: "cn")
    outcome = single(
        {
            "Type": "Task",
            "Resource": "arn:aws-cn:states:::lambda:invoke",
            "Parameters": {"FunctionName": "F"},
            "OutputPath": "$.Payload",
        },
        {},
        lambdas=lambdas,
    )
    assert outcome.output == "cn"
